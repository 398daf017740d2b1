# The examples in examples/ as users copy them: each parses, calls only commands and parameters that exist, and the
# offline ones run. Azure Automation's own cmdlets (not installed here) are skipped; nothing needs the sandbox.
BeforeDiscovery {
    $script:examples = Get-ChildItem (Join-Path $env:UPGRADEOPS_ROOT 'examples') -Filter *.ps1 |
        ForEach-Object { @{ Name = $_.Name; Path = $_.FullName } }
}

BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    # The demo runbook starts and removes the sandbox with its module's functions: their parameters are checked too.
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/Sandbox.psm1') -Force
    $script:exampleRoot = Join-Path $env:UPGRADEOPS_ROOT 'examples'
    $script:changelog = Join-Path $env:UPGRADEOPS_ROOT 'tests/Pester/Fixtures/CHANGELOG.md'
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    # Azure and Azure Automation cmdlets: available in the Automation sandbox / Hybrid Worker, not here.
    $script:azureCommands = 'Connect-AzAccount', 'Get-AutomationVariable', 'Set-AutomationVariable', 'Get-AutomationPSCredential'

    function Get-ExampleAst([string] $Path) {
        $tokens = $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$tokens, [ref]$errors)
        [pscustomobject]@{ Ast = $ast; Errors = $errors }
    }
}

Describe 'Example <Name>' -Tag 'Examples' -ForEach $examples {
    It 'parses without errors' {
        (Get-ExampleAst $Path).Errors | Should -BeNullOrEmpty
    }

    It 'says what it is for (.SYNOPSIS, .DESCRIPTION)' {
        $text = Get-Content -Raw $Path
        $text | Should -Match '\.SYNOPSIS\s+\S'
        $text | Should -Match '\.DESCRIPTION\s+\S'
    }

    It 'calls only commands that exist, with parameters they have' {
        $ast = (Get-ExampleAst $Path).Ast
        $ownFunctions = @($ast.FindAll({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true) | ForEach-Object Name)
        $problems = foreach ($call in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $name = $call.GetCommandName()
            if (-not $name -or $name -in $azureCommands -or $name -in $ownFunctions) { continue }
            if ($name -like '*.ps1' -or $name -like '*/*' -or $name -eq 'exit') { continue }
            $command = Get-Command $name -ErrorAction SilentlyContinue
            if (-not $command) { "line $($call.Extent.StartLineNumber): '$name' is not a command"; continue }
            if ($command.CommandType -eq 'Alias') { $command = $command.ResolvedCommand }
            $known = @($command.Parameters.Values | ForEach-Object { $_.Name; $_.Aliases })
            foreach ($parameter in $call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                $matching = @($known | Where-Object { $_ -like "$($parameter.ParameterName)*" })
                if ($parameter.ParameterName -notin $known -and $matching.Count -ne 1) {
                    "line $($call.Extent.StartLineNumber): $name has no parameter -$($parameter.ParameterName)"
                }
            }
        }
        $problems | Should -BeNullOrEmpty
    }
}

Describe 'Unattended examples' -Tag 'Examples' {
    It 'the Azure Automation runbook never prompts, shows no progress and throws on failure' {
        $text = Get-Content -Raw (Join-Path $exampleRoot 'AzureAutomation-ScheduledUpgrade.ps1')
        $text | Should -Match "\`$ProgressPreference = 'SilentlyContinue'"
        $text | Should -Match "\`$ErrorActionPreference = 'Stop'"
        $text | Should -Match 'Connect-AzAccount -Identity'
        $text | Should -Match 'Get-AutomationVariable'
        $text | Should -Not -Match 'Read-Host|Get-Credential|Write-Progress|Write-Host'
        $ast = (Get-ExampleAst (Join-Path $exampleRoot 'AzureAutomation-ScheduledUpgrade.ps1')).Ast
        $changing = $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] -and
                $args[0].GetCommandName() -in 'Invoke-Upgrade', 'New-DeploymentBackup', 'Restore-DeploymentBackup', 'Invoke-Rollback' }, $true)
        $changing | Should -Not -BeNullOrEmpty
        foreach ($call in $changing) {
            $call.Extent.Text | Should -Match '-Confirm:\$false' -Because "line $($call.Extent.StartLineNumber) must not prompt"
            $call.Extent.Text | Should -Match '-Force'
        }
        $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] -and $args[0].GetCommandName() -eq 'Get-UpgradeDiagnostic' }, $true).Extent.Text |
            Should -Match '-OutFile'
    }
}

Describe 'Offline examples run' -Tag 'Examples' {
    It 'Plan-Upgrade.ps1 runs' {
        $output = & $pwsh -NoProfile -NonInteractive -File (Join-Path $exampleRoot 'Plan-Upgrade.ps1') -ModulePath $env:UPGRADEOPS_MODULE 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        ($output -join "`n") | Should -Match 'ErrorId: InvalidVersion'
    }

    It 'CI-UpgradeStep.ps1 -Mode Plan writes its summaries and exits 0' {
        $out = Join-Path $TestDrive 'ci'
        $output = & $pwsh -NoProfile -NonInteractive -File (Join-Path $exampleRoot 'CI-UpgradeStep.ps1') -Mode Plan -From 1.5.2 -To 1.7.6 `
            -ReleaseNotePath $changelog -OutputPath $out -ModulePath $env:UPGRADEOPS_MODULE 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $summary = Get-Content -Raw (Join-Path $out 'upgrade-summary.json') | ConvertFrom-Json
        $summary.passed | Should -BeTrue
        $summary.checks.Name | Should -Contain 'UpgradePath'
        $junit = [xml](Get-Content -Raw (Join-Path $out 'upgrade-junit.xml'))
        $junit.testsuites.testsuite.failures | Should -Be '0'
    }

    It 'CI-UpgradeStep.ps1 exits 1 on a refused path and 2 on bad input' {
        $out = Join-Path $TestDrive 'ci-refused'
        $null = & $pwsh -NoProfile -NonInteractive -File (Join-Path $exampleRoot 'CI-UpgradeStep.ps1') -Mode Plan -From 1.7.6 -To 1.6.3 `
            -ReleaseNotePath $changelog -OutputPath $out -ModulePath $env:UPGRADEOPS_MODULE 2>&1
        $LASTEXITCODE | Should -Be 1
        ([xml](Get-Content -Raw (Join-Path $out 'upgrade-junit.xml'))).testsuites.testsuite.failures | Should -Be '1'
        $null = & $pwsh -NoProfile -NonInteractive -File (Join-Path $exampleRoot 'CI-UpgradeStep.ps1') -Mode Plan -To 1.7.6 `
            -OutputPath $out -ModulePath $env:UPGRADEOPS_MODULE 2>&1
        $LASTEXITCODE | Should -Be 2
    }
}

Describe 'Profile reference' -Tag 'Examples' {
    It 'its minimal profile loads and plans an upgrade' {
        $doc = Get-Content -Raw (Join-Path $env:UPGRADEOPS_ROOT 'docs/profile-reference.md')
        $yaml = [regex]::Match($doc, '(?s)## A minimal profile.*?```yaml\r?\n(.*?)```').Groups[1].Value
        $file = Join-Path $TestDrive 'acme-shop.yml'
        Set-Content -Path $file -Value $yaml
        (Test-UpgradePath -From 2.3.1 -To 2.5.0 -Profile $file -ErrorAction Stop).Route | Should -Be '2.3.1 → 2.4.2 → 2.5.0'
    }

    It 'documents every top-level key of the profile' {
        $doc = Get-Content -Raw (Join-Path $env:UPGRADEOPS_ROOT 'docs/profile-reference.md')
        foreach ($key in 'schemaVersion', 'name', 'services', 'version', 'versionPolicy', 'catalog', 'estimates', 'impacts', 'api',
            'validation', 'dataStores', 'migration', 'configurationRules', 'diagnostics') {
            $doc | Should -Match "\| ``$key`` \|"
        }
    }
}
