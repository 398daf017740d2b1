using System.Text;
using UpgradeOps.Backups;
using UpgradeOps.Profiles;
using Xunit;

using UpgradeOps.Kubernetes;

namespace UpgradeOps.Engine.Tests.Backups;

public class KubernetesObjectSnapshotTests
{
    private const string Password = "s3cret-Pa55word";
    private static readonly Dictionary<string, byte[]> SecretData = new()
    {
        ["password"] = Encoding.UTF8.GetBytes(Password),
        ["signing-key"] = Encoding.UTF8.GetBytes("k-123"),
    };

    [Fact]
    public void A_redacted_secret_keeps_its_keys_and_no_value_in_clear_or_base64()
    {
        var json = KubernetesObjectSnapshot.Serialize([KubernetesObjectSnapshot.Secret("hb-sandbox-database", "Opaque", SecretData, redact: true)]);
        Assert.DoesNotContain(Password, json);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(Password)), json);
        Assert.DoesNotContain("k-123", json);
        var item = Assert.Single(KubernetesObjectSnapshot.Parse(json));
        Assert.True(item.Redacted);
        Assert.Equal(["password", "signing-key"], item.Data.Keys.Order());
        Assert.All(item.Data.Values, v => Assert.Equal("***", v));
    }

    [Fact]
    public void A_kept_secret_round_trips_its_bytes()
    {
        var json = KubernetesObjectSnapshot.Serialize([KubernetesObjectSnapshot.Secret("s", null, SecretData, redact: false)]);
        var item = Assert.Single(KubernetesObjectSnapshot.Parse(json));
        Assert.False(item.Redacted);
        Assert.Equal("Opaque", item.Type);
        Assert.Equal(Password, Encoding.UTF8.GetString(item.SecretData()["password"]));
    }

    [Fact]
    public void A_config_map_is_kept_whole_and_release_names_resolve()
    {
        var json = KubernetesObjectSnapshot.Serialize([KubernetesObjectSnapshot.ConfigMap("hb-sandbox-config", new Dictionary<string, string> { ["APP_LOG_LEVEL"] = "info" })]);
        var item = Assert.Single(KubernetesObjectSnapshot.Parse(json));
        Assert.Equal(("ConfigMap", "info", false), (item.Kind, item.Data["APP_LOG_LEVEL"], item.Redacted));
        Assert.Equal("hb-sandbox-config", KubernetesObjectSnapshot.ResolveName("{release}-sandbox-config", "hb"));
    }

    [Theory]
    [InlineData("kubernetesResources: [{kind: Deployment, name: x}]", "kind 'Deployment' is not supported")]
    [InlineData("kubernetesResources: [{kind: Secret}]", "needs a 'name'")]
    [InlineData("dataStores: [{name: files, kind: Volume, volume: v, kubernetesWorkload: app, path: relative}]", "absolute 'path'")]
    [InlineData("dataStores: [{name: files, kind: Volume, volume: v, kubernetesWorkload: nope, path: /data}]", "not a declared service")]
    public void The_profile_validator_refuses_bad_keys(string yaml, string message)
    {
        var text = $"schemaVersion: 1\nname: t\nservices: [{{name: app, role: Api}}]\n{yaml}\n";
        var ex = Assert.ThrowsAny<Exception>(() => ProfileLoader.Parse(text, "test"));
        Assert.Contains(message, ex.Message);
    }
}
