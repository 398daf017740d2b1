using System.Text.Json.Nodes;
using Google.Protobuf;

namespace KubeApiServer;

/// <summary>
/// Decodes Kubernetes protobuf request bodies into the JSON the store keeps. client-go's typed clients
/// (helm's release storage among them) send objects as "k8s\0" + runtime.Unknown{typeMeta, raw}, with the
/// object's own message in raw, and do not fall back to JSON when a server answers 415. Only the fields
/// the tests need are decoded: ObjectMeta's identity, labels and annotations for every kind, plus the
/// payload of Secrets (type, data, stringData, immutable) and ConfigMaps (data, binaryData).
/// </summary>
public static class KubeProtobuf
{
    private static readonly byte[] Magic = "k8s\0"u8.ToArray();

    public static bool IsProtobuf(string? contentType) =>
        contentType is not null && contentType.StartsWith("application/vnd.kubernetes.protobuf", StringComparison.OrdinalIgnoreCase);

    public static JsonObject Decode(byte[] body)
    {
        if (body.Length < 4 || !body.AsSpan(0, 4).SequenceEqual(Magic))
            throw new FormatException("a Kubernetes protobuf body starts with the magic bytes k8s\\0");
        string apiVersion = "", kind = "";
        ByteString raw = ByteString.Empty;
        var input = new CodedInputStream(body, 4, body.Length - 4);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: // TypeMeta
                    var typeMeta = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint t;
                    while ((t = typeMeta.ReadTag()) != 0)
                    {
                        switch (WireFormat.GetTagFieldNumber(t))
                        {
                            case 1: apiVersion = typeMeta.ReadString(); break;
                            case 2: kind = typeMeta.ReadString(); break;
                            default: typeMeta.SkipLastField(); break;
                        }
                    }
                    break;
                case 2: raw = input.ReadBytes(); break;
                default: input.SkipLastField(); break;
            }
        }
        var obj = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind };
        var message = new CodedInputStream(raw.ToByteArray());
        while ((tag = message.ReadTag()) != 0)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            if (field == 1) { obj["metadata"] = DecodeObjectMeta(message.ReadBytes()); continue; }
            switch (kind, field)
            {
                case ("Secret", 2): AddMapEntry(obj, "data", message.ReadBytes(), base64Value: true); break;
                case ("Secret", 3): obj["type"] = message.ReadString(); break;
                case ("Secret", 4): AddMapEntry(obj, "stringData", message.ReadBytes(), base64Value: false); break;
                case ("Secret", 5): obj["immutable"] = message.ReadBool(); break;
                case ("ConfigMap", 2): AddMapEntry(obj, "data", message.ReadBytes(), base64Value: false); break;
                case ("ConfigMap", 3): AddMapEntry(obj, "binaryData", message.ReadBytes(), base64Value: true); break;
                case ("ConfigMap", 4): obj["immutable"] = message.ReadBool(); break;
                default: message.SkipLastField(); break;
            }
        }
        return obj;
    }

    private static JsonObject DecodeObjectMeta(ByteString bytes)
    {
        var meta = new JsonObject();
        var input = new CodedInputStream(bytes.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: meta["name"] = input.ReadString(); break;
                case 2: meta["generateName"] = input.ReadString(); break;
                case 3: meta["namespace"] = input.ReadString(); break;
                case 5: meta["uid"] = input.ReadString(); break;
                case 6: meta["resourceVersion"] = input.ReadString(); break;
                case 7: meta["generation"] = input.ReadInt64(); break;
                case 11: AddMapEntry(meta, "labels", input.ReadBytes(), base64Value: false); break;
                case 12: AddMapEntry(meta, "annotations", input.ReadBytes(), base64Value: false); break;
                case 14: (meta["finalizers"] as JsonArray ?? (JsonArray)(meta["finalizers"] = new JsonArray())).Add(input.ReadString()); break;
                default: input.SkipLastField(); break;
            }
        }
        return meta;
    }

    // A protobuf map entry: key = field 1 (string), value = field 2 (string or bytes).
    private static void AddMapEntry(JsonObject owner, string property, ByteString entry, bool base64Value)
    {
        string key = "";
        ByteString value = ByteString.Empty;
        var input = new CodedInputStream(entry.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: key = input.ReadString(); break;
                case 2: value = input.ReadBytes(); break;
                default: input.SkipLastField(); break;
            }
        }
        if (owner[property] is not JsonObject map) owner[property] = map = new JsonObject();
        map[key] = base64Value ? Convert.ToBase64String(value.Span) : value.ToStringUtf8();
    }
}
