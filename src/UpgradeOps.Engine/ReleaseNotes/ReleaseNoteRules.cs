using System.Globalization;
using System.Text.RegularExpressions;
using UpgradeOps.Versioning;
using static UpgradeOps.ReleaseNoteCategory;

namespace UpgradeOps.ReleaseNotes;

/// <summary>
/// Every text rule of the release-note reader in one place: how sections and entries are classified,
/// which references are collected and how a release heading names its version and date.
/// Markdown structure itself is left to Markdig; these rules only look at plain text.
/// </summary>
internal static class ReleaseNoteRules
{
    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled;

    /// <summary>When several categories apply, the one an admin must not miss wins.</summary>
    private static readonly ReleaseNoteCategory[] Precedence =
    [
        BreakingChange, Security, DatabaseMigration, ReleaseNoteCategory.ConfigurationChange, Deprecation, KnownIssue, Feature, Fix, Other,
    ];

    /// <summary>
    /// The category a section heading gives its entries; the first matching rule applies.
    /// "Removed" counts as breaking because removing something breaks whoever still uses it, unless the entry says
    /// that what went is documentation only (<see cref="DocumentationOnly"/>).
    /// "Upgrade notes" count as breaking because they describe steps that must be taken when upgrading.
    /// "Changed" and unknown headings ("What's Changed") give no category, so the entries end up Other
    /// unless their text says more.
    /// </summary>
    private static readonly (Regex Heading, ReleaseNoteCategory Category)[] SectionRules =
    [
        (Rule(@"\bbreaking\b"), BreakingChange),
        (Rule(@"\bupgrade (notes?|instructions?)\b|\baction required\b"), BreakingChange),
        (Rule(@"\bsecurity\b"), Security),
        (Rule(@"\bmigrations?\b"), DatabaseMigration),
        (Rule(@"\bconfig(uration)?\b"), ReleaseNoteCategory.ConfigurationChange),
        (Rule(@"\bdeprecat"), Deprecation),
        (Rule(@"\bknown (issues?|limitations?)\b"), KnownIssue),
        (Rule(@"\bremov(ed|als?)\b"), BreakingChange),
        (Rule(@"\b(added|features?|enhancements?|improvements?)\b"), Feature),
        (Rule(@"\b(fixed|fix(es)?|bug ?fix(es)?|bugs?)\b"), Fix),
    ];

    /// <summary>A removal from the documentation ("Removed X from the schema topic in the documentation"): nothing the product does goes.</summary>
    private static readonly Regex DocumentationOnly = Rule(
        @"\b(in|from|of) the (documentation|docs)\b|^\s*remov(e|ed|es) (the )?(documentation|docs) (for|of|about|on)\b|\b(documentation|docs) (pages?|sections?|topics?)\b");

    private static readonly Regex RemovalHeading = Rule(@"\bremov(ed|als?)\b");

    /// <summary>
    /// What an entry's own text reveals, in precedence order; it can raise the section's category
    /// (a "BREAKING CHANGE:" line inside "Fixed") but never lower it below a more important one.
    /// </summary>
    private static readonly (ReleaseNoteCategory Category, Regex Text)[] TextRules =
    [
        (BreakingChange, new Regex(@"^[ \t]*BREAKING( CHANGES?)?[ \t]*:", Options | RegexOptions.Multiline)),
        // An entry that asks the admin to do something by hand is read like upgrade notes ("action required"): a step of
        // the upgrade that nothing else will do (Infrahub 0.16.1: "you will need to manually delete the queue yourself").
        (BreakingChange, Rule(@"\b(you|admins?|administrators?|operators?)\b[^.\n]{0,40}\b(need|needs|have|has|must|should)\b[^.\n]{0,20}\b(manually|by hand)\b"
            + @"|\b(must|needs? to|has to|have to|should) be [a-z]+ (manually|by hand)\b"
            + @"|\bmanual (steps?|actions?|intervention) (is |are )?(required|needed|necessary)\b|\brequires? (a )?manual (steps?|actions?|intervention)\b"
            + @"|\baction required\b")),
        (Security, Rule(@"\bCVE-\d{4}-\d{4,}\b|\bGHSA(-[0-9a-z]{4}){3}\b|\bvulnerabilit(y|ies)\b"
            + @"|\bsecurity (fix|issue|advisory|patch|update|flaw)s?\b")),
        (DatabaseMigration, Rule(@"\b(database|db|data|schema|graph) migrations?\b"
            + @"|\bmigrat(e|es|ed|ing|ion) (of )?(the |your |existing )?(data|database|schema)\b"
            + @"|\brun (the )?migrations?\b|\bmigrations? (will |must |needs? to )?(be )?(run|applied)\b"
            + @"|\binfrahub (db )?upgrade\b")), // Infrahub's own migration command, named in its upgrade guide
        (ReleaseNoteCategory.ConfigurationChange, Rule(@"\benvironment variables?\b|\benv vars?\b|\bconfig\b|\bvalues\.ya?ml\b"
            + @"|\bconfiguration (settings?|options?|files?|keys?|parameters?|values?|changes?)\b"
            + @"|\b(new )?required (settings?|options?|variables?)\b")),
        (Deprecation, Rule(@"\bdeprecat(e|ed|es|ion|ing)\b|\bwill be removed\b")),
        (KnownIssue, Rule(@"\bknown (issues?|limitations?)\b")),
    ];

    /// <summary>Sections and paragraphs of generated GitHub release bodies that say nothing about the product.</summary>
    private static readonly Regex IgnoredSection = Rule(@"^new contributors$");
    private static readonly Regex IgnoredText = Rule(@"^full changelog\s*:");

    /// <summary>"#4438", "GH-4438" and GitHub issue or pull-request URLs (reported as "#4438").</summary>
    private static readonly Regex Reference = Rule(
        @"(?<![\w&/])#(?<number>\d+)\b|\bGH-(?<gh>\d+)\b|github\.com/[^/\s]+/[^/\s]+/(issues|pull)/(?<number>\d+)");

    /// <summary>A semantic version inside a heading or tag: "[1.7.6]", "v1.7.6", "infrahub-v1.7.6", "2.0.0-rc.1".</summary>
    private static readonly Regex VersionInText = Rule(
        @"(?<![\w.])v?\d+\.\d+\.\d+(-[0-9a-z.-]*[0-9a-z])?(\+[0-9a-z.-]+)?(?![\w.]*\d)");

    private static readonly Regex IsoDate = Rule(@"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)");

    /// <summary>The category the heading gives an entry; a documentation-only entry under "Removed" gets none from it.</summary>
    public static ReleaseNoteCategory? CategoryOfSection(string? section, string entryText = "")
    {
        if (string.IsNullOrWhiteSpace(section)) return null;
        foreach (var (heading, category) in SectionRules)
        {
            if (!heading.IsMatch(section)) continue;
            return category == BreakingChange && RemovalHeading.IsMatch(section) && DocumentationOnly.IsMatch(entryText) ? null : category;
        }
        return null;
    }

    public static ReleaseNoteCategory Classify(ReleaseNoteCategory? sectionCategory, string text)
    {
        ReleaseNoteCategory? textCategory = null;
        foreach (var (category, pattern) in TextRules)
        {
            if (!pattern.IsMatch(text)) continue;
            textCategory = category;
            break;
        }

        return MostImportant(sectionCategory, textCategory) ?? Other;
    }

    public static bool IsIgnoredSection(string section) => IgnoredSection.IsMatch(section.Trim());

    public static bool IsIgnoredText(string text) => IgnoredText.IsMatch(text);

    public static IReadOnlyList<string> FindReferences(string text) =>
        Reference.Matches(text)
            .Select(match => match.Groups["gh"].Success ? "GH-" + match.Groups["gh"].Value : "#" + match.Groups["number"].Value)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();

    /// <summary>The first text that parses as a version, and the ISO date after it if there is one.</summary>
    public static bool TryReadVersion(string? text, out ProductVersion? version, out DateTime? date)
    {
        version = null;
        date = null;
        if (string.IsNullOrWhiteSpace(text)) return false;

        foreach (Match match in VersionInText.Matches(text))
        {
            if (!ProductVersion.TryParse(match.Value, out version)) continue;

            var dateMatch = IsoDate.Match(text, match.Index + match.Length);
            if (dateMatch.Success
                && DateTime.TryParseExact(dateMatch.Value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
                date = parsed;
            return true;
        }

        return false;
    }

    private static ReleaseNoteCategory? MostImportant(ReleaseNoteCategory? a, ReleaseNoteCategory? b)
    {
        if (a is null) return b;
        if (b is null) return a;
        return Array.IndexOf(Precedence, a.Value) <= Array.IndexOf(Precedence, b.Value) ? a : b;
    }

    private static Regex Rule(string pattern) => new(pattern, Options);
}
