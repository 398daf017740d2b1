# Shared by the Pester tests: every object the module returns survives what admins do with it. A CI step writes it as
# JSON, a runbook attaches it to a change ticket, Azure Automation and jobs serialize it, and Export-Clixml /
# Import-Clixml carries it to another session, where the module's own cmdlets must take it again.
#
#   Assert-RoundTrip $object -Type UpgradeOps.X [-Secret $values] [-AcceptedBy { param($deserialized) ... }] [-PassThru]
#
# checks that ConvertTo-Json -Depth 10 takes it whole (no error, nothing cut), that Export-Clixml / Import-Clixml give
# back a Deserialized.UpgradeOps.X that rebuilds (as a cmdlet parameter rebuilds it) into the very same object, that no
# -Secret appears in either form, that it shows in the same default view, and runs -AcceptedBy with the deserialized object (a cmdlet that takes the type);
# -PassThru returns the deserialized object, for a test that goes on with it.
# -Type is written out at each call: Serialization.Tests.ps1 reads the calls to prove every output type of every cmdlet
# has a round trip of a real object somewhere.

function Assert-RoundTrip {
    param(
        [Parameter(Mandatory, Position = 0)] [AllowNull()] $InputObject,
        [Parameter(Mandatory)] [string] $Type,
        [string[]] $Secret = @(),
        [scriptblock] $AcceptedBy,
        [switch] $PassThru
    )
    $InputObject | Should -Not -BeNullOrEmpty -Because "a $Type to round-trip"
    $InputObject.PSObject.TypeNames[0] | Should -Be $Type

    $json = ConvertTo-JsonWhole $InputObject
    $null = $json | ConvertFrom-Json -ErrorAction Stop

    $file = Join-Path ([IO.Path]::GetTempPath()) "uops-roundtrip-$([guid]::NewGuid().ToString('N')).xml"
    try {
        $InputObject | Export-Clixml -LiteralPath $file -ErrorAction Stop
        $xml = [IO.File]::ReadAllText($file)
        $deserialized = Import-Clixml -LiteralPath $file -ErrorAction Stop
    }
    finally { Remove-Item -LiteralPath $file -ErrorAction SilentlyContinue }

    foreach ($value in $Secret | Where-Object { $_ }) {
        $json | Should -Not -Match ([regex]::Escape($value)) -Because "the JSON of a $Type carries no secret"
        $xml | Should -Not -Match ([regex]::Escape([Security.SecurityElement]::Escape($value))) -Because "the CliXml of a $Type carries no secret"
    }

    $deserialized.PSObject.TypeNames[0] | Should -Be "Deserialized.$Type"
    $rebuilt = ConvertFrom-DeserializedObject $deserialized $InputObject.GetType()
    $rebuilt.GetType() | Should -Be $InputObject.GetType()
    # Nothing lost on the way: not a nested object cut to its name by the serialization depth, not a date, a map or an enum.
    ConvertTo-CanonicalJson $rebuilt | Should -Be (ConvertTo-CanonicalJson $InputObject)

    # Import-Clixml's object shows in the same default view (UpgradeOps.Format.ps1xml selects the Deserialized type too).
    $deserialized | Out-String -Width 250 | Should -Be ($InputObject | Out-String -Width 250)

    if ($AcceptedBy) { $null = & $AcceptedBy $deserialized }
    if ($PassThru) { $deserialized }
}

function Get-DotEnvSecret {
    # The values of a deployment's .env that are secrets (a name with PASSWORD, SECRET, KEY or TOKEN), for -Secret.
    param([Parameter(Mandatory)] [string] $Folder)
    foreach ($line in Get-Content -LiteralPath (Join-Path $Folder '.env')) {
        if ($line -match '^\s*[A-Z0-9_]*(PASSWORD|SECRET|KEY|TOKEN)[A-Z0-9_]*=(.{6,})$') { $Matches[2].Trim('"', "'") }
    }
}

function ConvertTo-JsonWhole {
    # ConvertTo-Json -Depth 10 as a CI step runs it: no error, and no warning that it cut the object short.
    param([Parameter(Mandatory)] $InputObject)
    $warnings = @()
    $json = $InputObject | ConvertTo-Json -Depth 10 -ErrorAction Stop -WarningVariable warnings -WarningAction SilentlyContinue
    @($warnings) | Should -BeNullOrEmpty -Because 'ConvertTo-Json -Depth 10 holds the whole object'
    $json
}

function ConvertFrom-DeserializedObject {
    # What a cmdlet parameter does with an object from Import-Clixml: the module's transformation attribute rebuilds it.
    param([Parameter(Mandatory)] $Deserialized, [Parameter(Mandatory)] [type] $Type)
    $attribute = [UpgradeOps.Commands.Hosting.RehydrateAttribute]::new([type[]]@($Type))
    $attribute.Transform($ExecutionContext, $Deserialized)
}

function ConvertTo-CanonicalJson {
    # The JSON of an object with the keys of every map sorted: Import-Clixml gives a dictionary back as a Hashtable,
    # whose order is not the original's.
    param([Parameter(Mandatory)] $InputObject)
    $tree = ConvertTo-JsonWhole $InputObject | ConvertFrom-Json -AsHashtable -DateKind String
    ConvertTo-Json -InputObject (Get-SortedTree $tree) -Depth 100 -Compress
}

function Get-SortedTree {
    param($Node)
    if ($Node -is [System.Collections.IDictionary]) {
        $sorted = [ordered]@{}
        foreach ($key in @($Node.Keys) | Sort-Object) { $sorted[$key] = Get-SortedTree $Node[$key] }
        return $sorted
    }
    if ($Node -is [System.Collections.IList]) { return , @(foreach ($item in $Node) { , (Get-SortedTree $item) }) }
    $Node
}

function Get-RoundTripCoverage {
    # The -Type of every Assert-RoundTrip call with a literal type in the Pester files under -Path, by file.
    param([Parameter(Mandatory)] [string[]] $Path)
    foreach ($file in $Path) {
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$null, [ref]$null)
        $calls = $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq 'Assert-RoundTrip' }, $true)
        foreach ($call in $calls) {
            $elements = $call.CommandElements
            for ($i = 1; $i -lt $elements.Count - 1; $i++) {
                if ($elements[$i] -is [System.Management.Automation.Language.CommandParameterAst] -and $elements[$i].ParameterName -eq 'Type' -and
                    $elements[$i + 1] -is [System.Management.Automation.Language.StringConstantExpressionAst]) {
                    [pscustomobject]@{ Type = $elements[$i + 1].Value; File = Split-Path -Leaf $file; Line = $call.Extent.StartLineNumber }
                }
            }
        }
    }
}
