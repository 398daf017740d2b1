# Shared by the demo's tests (Demo.Tests.ps1, InfrahubDemo.Tests.ps1): dot-source it in BeforeAll.

function Get-TextOf {
    <# Every file under a folder by path relative to it, as text (binary files, such as a zip or a dump, read as Latin-1 so
       a secret written in them as text is still found), but those matching -Exclude. #>
    param([Parameter(Mandatory)][string] $Folder, [string[]] $Exclude = @())
    if (-not (Test-Path $Folder)) { return @{} }
    $texts = @{}
    foreach ($file in Get-ChildItem -LiteralPath $Folder -Recurse -File -Force) {
        $relative = [IO.Path]::GetRelativePath($Folder, $file.FullName)
        if ($Exclude | Where-Object { $relative -like $_ }) { continue }
        $texts[$relative] = [IO.File]::ReadAllText($file.FullName, [Text.Encoding]::Latin1)
    }
    $texts
}

function Find-SecretLeak {
    <# Each place (name → text) that holds one of the secrets, named with the secret's first three characters only. #>
    param([Parameter(Mandatory)][hashtable] $Places, [Parameter(Mandatory)][string[]] $Secret)
    foreach ($place in $Places.GetEnumerator()) {
        foreach ($value in $Secret) { if ($place.Value.Contains($value)) { "$($place.Key) holds the secret $($value.Substring(0, 3))…" } }
    }
}
