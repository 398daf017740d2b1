# The bad-input corpus: every case is data (tests/Reliability/Cases/*.cases.ps1), the assertions are shared.
# A case runs a cmdlet as a user would, in a folder of its own, with no Docker Engine and no Kubernetes API
# reachable, and must end in an ErrorRecord with a stable ErrorId (never EngineFailure, never a raw .NET
# exception), the right category, the failing input as TargetObject, a message that says what to do next,
# nothing created, changed or left behind, and an answer within 10 s. A case may instead expect a result
# (a refused downgrade is a result, not an error) and check it.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Reliability.ps1')
    $script:cases = Get-ReliabilityCase -Folder (Join-Path $PSScriptRoot 'Cases')
}

BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'Reliability.ps1')
    $script:saved = Enter-UnreachableEngines
}

AfterAll {
    Exit-UnreachableEngines $script:saved
    if (Get-Command Remove-BackupFixtureTemplates -ErrorAction SilentlyContinue) { Remove-BackupFixtureTemplates }
}

Describe 'Bad-input corpus' -Tag 'Reliability', 'BadInput' {
    It '<Area>: <Name>' -ForEach $cases {
        $outcome = Invoke-ReliabilityCase -Case $_
        Assert-ReliabilityOutcome -Case $_ -Outcome $outcome
    }
}
