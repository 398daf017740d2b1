using System.Runtime.InteropServices;
using System.Security;
using System.Text;

namespace UpgradeOps.Commands.Hosting;

/// <summary>Turns a SecureString into UTF-8 bytes for the engine, without a managed string in between.</summary>
internal static class SecureStrings
{
    public static byte[]? ToUtf8(SecureString? secure)
    {
        if (secure is null) return null;
        var pointer = Marshal.SecureStringToGlobalAllocUnicode(secure);
        try
        {
            unsafe
            {
                var chars = new ReadOnlySpan<char>((char*)pointer, secure.Length);
                var bytes = new byte[Encoding.UTF8.GetByteCount(chars)];
                Encoding.UTF8.GetBytes(chars, bytes);
                return bytes;
            }
        }
        finally
        {
            Marshal.ZeroFreeGlobalAllocUnicode(pointer);
        }
    }
}
