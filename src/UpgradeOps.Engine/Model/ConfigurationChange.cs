namespace UpgradeOps;

/// <summary>What a configuration rule did, or would do, to its setting.</summary>
public enum ConfigurationAction
{
    /// <summary>The setting was written (a given, default or generated value).</summary>
    Added,
    /// <summary>Helm: an older key's value was moved to the new key.</summary>
    Moved,
    /// <summary>The setting already has a value: nothing to do.</summary>
    AlreadySet,
    /// <summary>No value is known: give one with -ConfigurationValue.</summary>
    Missing,
}

/// <summary>One configuration migration a profile rule asks for, as Convert-UpgradeConfiguration and Invoke-Upgrade apply and report it.</summary>
public sealed class ConfigurationChange
{
    public required string RuleId { get; set; }
    public required string Description { get; set; }
    /// <summary>The variable (Compose) or values key (Helm) the rule requires.</summary>
    public required string Setting { get; set; }
    public required string File { get; set; }
    /// <summary>Added, Moved (Helm: from an older key), AlreadySet, or Missing (no value known: give one).</summary>
    public required ConfigurationAction Action { get; set; }
    /// <summary>Helm: the older key whose value moved to <see cref="Setting"/> (movedFrom).</summary>
    public string? MovedFrom { get; set; }
    /// <summary>The change as a diff, with secret values masked.</summary>
    public string? Diff { get; set; }
    /// <summary>Whether the file was written (false with -WhatIf, or when nothing changed).</summary>
    public bool Applied { get; set; }

    public override string ToString() => $"{RuleId}: {Setting} {Action}";
}
