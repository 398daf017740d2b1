using UpgradeOps.ReleaseNotes;
using static UpgradeOps.ReleaseNoteCategory;

namespace UpgradeOps.Engine.Tests.ReleaseNotes;

public class ClassificationTests
{
    [Theory]
    [InlineData("Breaking Changes", BreakingChange)]
    [InlineData("Upgrade notes", BreakingChange)]
    [InlineData("Removed", BreakingChange)]
    [InlineData("Security", Security)]
    [InlineData("Migration", DatabaseMigration)]
    [InlineData("Configuration changes", ReleaseNoteCategory.ConfigurationChange)]
    [InlineData("Deprecated", Deprecation)]
    [InlineData("Known Issues", KnownIssue)]
    [InlineData("Added", Feature)]
    [InlineData("🚀 Features", Feature)]
    [InlineData("Fixed", Fix)]
    [InlineData("Bug Fixes", Fix)]
    [InlineData("Changed", Other)]
    [InlineData("What's Changed", Other)]
    [InlineData(null, Other)]
    public void Section_heading_gives_the_default(string? section, ReleaseNoteCategory expected) =>
        Assert.Equal(expected, ReleaseNoteParser.Classify(section, "Something happened."));

    [Theory]
    [InlineData("Faster diffs.\n\nBREAKING CHANGE: old diffs are deleted.", BreakingChange)]
    [InlineData("Faster diffs.\nBREAKING: old diffs are deleted.", BreakingChange)]
    [InlineData("Patch the parser for CVE-2024-12345.", Security)]
    [InlineData("Fix a security issue in token handling.", Security)]
    [InlineData("Adds a database migration for lamp groups.", DatabaseMigration)]
    [InlineData("Run the migrations before starting the new version.", DatabaseMigration)]
    [InlineData("Migration of the schema happens on first start.", DatabaseMigration)]
    [InlineData("After upgrading, run infrahub upgrade to update the graph.", DatabaseMigration)]
    [InlineData("The LANTERN_PORT environment variable is now read at startup.", ReleaseNoteCategory.ConfigurationChange)]
    [InlineData("Set `cache.enabled` in values.yaml.", ReleaseNoteCategory.ConfigurationChange)]
    [InlineData("The config key `retries` was renamed.", ReleaseNoteCategory.ConfigurationChange)]
    [InlineData("A new required setting `region` must be given.", ReleaseNoteCategory.ConfigurationChange)]
    [InlineData("The colour field is deprecated.", Deprecation)]
    [InlineData("The v1 API will be removed in 3.0.", Deprecation)]
    [InlineData("This is a known issue on ARM hosts.", KnownIssue)]
    public void Text_overrides_the_section(string text, ReleaseNoteCategory expected) =>
        Assert.Equal(expected, ReleaseNoteParser.Classify("Fixed", text));

    [Theory]
    [InlineData("Breaking Changes", "The `timeout` config key was renamed.", BreakingChange)]
    [InlineData("Security", "Rotate the token set by the API_TOKEN environment variable.", Security)]
    [InlineData("Fixed", "CVE-2025-0001: run the migration before restarting.", Security)]
    [InlineData("Deprecated", "The LAMP_MODE environment variable is deprecated.", ReleaseNoteCategory.ConfigurationChange)]
    [InlineData("Known Issues", "The database migration may take an hour on large installs.", DatabaseMigration)]
    public void The_most_important_category_wins(string section, string text, ReleaseNoteCategory expected) =>
        Assert.Equal(expected, ReleaseNoteParser.Classify(section, text));

    [Theory]
    [InlineData("Removed isolated branch information from schema topic in the documentation.")]
    [InlineData("Removed the outdated upgrade page from the docs.")]
    [InlineData("Removed documentation for the v1 API.")]
    public void A_removal_from_the_documentation_only_is_not_breaking(string text) =>
        Assert.Equal(Other, ReleaseNoteParser.Classify("Removed", text));

    [Theory]
    [InlineData("Removed `infrahub.toml` configuration file from Docker builds.")]
    [InlineData("Removed the documentation endpoint /api/docs from the server.")]
    public void A_removal_from_the_product_stays_breaking(string text) =>
        Assert.Equal(BreakingChange, ReleaseNoteParser.Classify("Removed", text));

    [Theory]
    [InlineData("Fixed the queue timeout. If you use your own RabbitMQ you will need to manually delete the queue yourself.")]
    [InlineData("The old index must be dropped by hand before the upgrade.")]
    [InlineData("Admins have to manually restart the git agents after this step.")]
    [InlineData("A manual step is required: recreate the cache volume.")]
    [InlineData("Action required: rotate the API token.")]
    public void An_entry_that_asks_the_admin_to_act_by_hand_is_breaking(string text) =>
        Assert.Equal(BreakingChange, ReleaseNoteParser.Classify("Fixed", text));

    [Theory]
    [InlineData("Removed the SDK and migrated it to its own repository.")]
    [InlineData("Users can now manually delete branches from the UI.")]
    [InlineData("Allow a manual sync of repositories.")]
    [InlineData("Mention that breaking: is not a line start here.")]
    [InlineData("Improve security groups view in the UI.")]
    public void Ordinary_wording_does_not_trigger_a_rule(string text) =>
        Assert.Equal(Fix, ReleaseNoteParser.Classify("Fixed", text));
}
