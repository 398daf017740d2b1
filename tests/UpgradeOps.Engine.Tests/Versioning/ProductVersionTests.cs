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

public class ProductVersionLimitTests
{
    [Theory]
    [InlineData("99999999999.0.0", "major number 99999999999")]
    [InlineData("1.99999999999.0", "minor number 99999999999")]
    [InlineData("v1.0.99999999999", "patch number 99999999999")]
    [InlineData("99999999999999999999.0.0", "major number 99999999999999999999")]
    public void A_number_above_Int32_is_InvalidVersion_not_an_overflow(string text, string expected)
    {
        Assert.False(ProductVersion.TryParse(text, out _));
        var error = Assert.Throws<InvalidVersionException>(() => ProductVersion.Parse(text));
        Assert.Equal("InvalidVersion", error.ErrorId);
        Assert.Equal(text, error.Target);
        Assert.Contains(expected, error.Message);
        Assert.Contains("2147483647", error.Message);
    }

    [Fact]
    public void The_largest_Int32_parts_are_a_version()
    {
        var version = ProductVersion.Parse("2147483647.2147483647.2147483647");
        Assert.Equal((int.MaxValue, int.MaxValue, int.MaxValue), (version.Major, version.Minor, version.Patch));
    }

    [Theory]
    [InlineData("1.7\0.6", @"'1.7\0.6'")]
    [InlineData("1.7.6\nrm -rf /", @"'1.7.6\nrm -rf /'")]
    [InlineData("1.7.6\r1.7.7", @"'1.7.6\r1.7.7'")]
    [InlineData("1.7.6\u001b[31m", @"'1.7.6\x1b[31m'")]
    public void Control_characters_are_escaped_in_the_message_and_kept_in_the_target(string text, string shown)
    {
        var error = Assert.Throws<InvalidVersionException>(() => ProductVersion.Parse(text));
        Assert.Equal(text, error.Target);
        Assert.Contains(shown, error.Message);
        Assert.DoesNotContain(error.Message, char.IsControl);
    }

    [Fact]
    public void Digits_other_than_0_to_9_are_named_as_the_problem()
    {
        var error = Assert.Throws<InvalidVersionException>(() => ProductVersion.Parse("١.٢.٣"));
        Assert.Contains("0-9", error.Message);
    }

    [Fact]
    public void Versions_that_differ_only_in_build_metadata_are_equal_and_hash_alike()
    {
        var a = ProductVersion.Parse("1.7.6+build.1");
        var b = ProductVersion.Parse("1.7.6+build.2");
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Single(new[] { a, b, ProductVersion.Parse("1.7.6") }.Distinct());
        Assert.Single(new HashSet<ProductVersion> { a, b });
    }
}
