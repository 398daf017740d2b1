using UpgradeOps.Versioning;

namespace UpgradeOps.Engine.Tests.Versioning;

public class ProductVersionTests
{
    [Theory]
    [InlineData("1.7.6", "1.7.6")]
    [InlineData("v1.7.6", "1.7.6")]
    [InlineData(" 2.0.0-rc.1 ", "2.0.0-rc.1")]
    public void Parses_full_semantic_versions(string text, string expected) =>
        Assert.Equal(expected, ProductVersion.Parse(text).ToString());

    [Theory]
    [InlineData("1.7")]
    [InlineData("latest")]
    [InlineData("1..2")]
    [InlineData("")]
    [InlineData("1.7.6.1")]
    public void Refuses_anything_else_with_InvalidVersion(string text)
    {
        var error = Assert.Throws<InvalidVersionException>(() => ProductVersion.Parse(text));
        Assert.Equal("InvalidVersion", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal(text, error.Target);
        Assert.Contains("1.7.6", error.Message);
    }

    [Fact]
    public void Orders_by_semantic_precedence()
    {
        Assert.True(ProductVersion.Parse("1.10.0") > ProductVersion.Parse("1.9.9"));
        Assert.True(ProductVersion.Parse("2.0.0-rc.1") < ProductVersion.Parse("2.0.0"));
        Assert.Equal(ProductVersion.Parse("v1.2.3"), ProductVersion.Parse("1.2.3"));
    }
}
