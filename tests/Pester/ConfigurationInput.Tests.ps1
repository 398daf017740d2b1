# Convert-UpgradeConfiguration on a Compose .env as users keep it (CRLF lines, a byte order mark, a variable set twice)
# and how it asks before writing. No Docker Engine needed: it only reads the compose file and writes the .env. The
# bad-input corpus (tests/Reliability) covers the refusals; these are the cases that change the file.
BeforeAll {
    Import-Module $env:UPGRADEOPS_MODULE -Force
    . (Join-Path $PSScriptRoot 'Serialization.ps1')
    $script:profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script:pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    # Engine types live in the module's own load context: the deployment is built from the engine assembly.
    function New-ComposeDeployment([string] $Folder) {
        $type = (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType('UpgradeOps.Deployment')
        $deployment = [Activator]::CreateInstance($type)
        $deployment.Name = 'sbx'; $deployment.Platform = 'Compose'; $deployment.Profile = $profilePath
        $deployment.Version = '1.8.0'; $deployment.Location = Join-Path $Folder 'docker-compose.yml'
        $deployment
    }
    # The same command in a fresh non-interactive pwsh: what it prints (What if: goes to the host) and its exit code.
    function Invoke-Child([string] $Folder, [string] $Arguments) {
        $command = "Import-Module '$env:UPGRADEOPS_MODULE'; `$type = (Test-UpgradePath -From 1.0.0 -To 1.0.1).GetType().Assembly.GetType('UpgradeOps.Deployment'); " +
            "`$d = [Activator]::CreateInstance(`$type); `$d.Name = 'sbx'; `$d.Platform = 'Compose'; `$d.Profile = '$profilePath'; `$d.Version = '1.8.0'; " +
            "`$d.Location = '$(Join-Path $Folder 'docker-compose.yml')'; `$d | Convert-UpgradeConfiguration -To 2.0.0 $Arguments"
        $text = (& $pwsh -NoProfile -NonInteractive -Command $command 2>&1) -join "`n"
        [pscustomobject]@{ Text = $text; ExitCode = $LASTEXITCODE }
    }
}

Describe 'Convert-UpgradeConfiguration on a .env as users keep it' -Tag 'Compose', 'Configuration' {
    BeforeEach {
        $script:folder = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory $folder
        [IO.File]::WriteAllText((Join-Path $folder 'docker-compose.yml'), "services:`n  server-a: {image: `"127.0.0.1:5000/sandbox:`${VERSION:-1.8.0}`"}`n")
        $script:envFile = Join-Path $folder '.env'
        $script:deployment = New-ComposeDeployment $folder
    }

    It 'adds the line to a CRLF .env with a CRLF, so every line ends in CRLF' {
        [IO.File]::WriteAllText($envFile, "# versions`r`nVERSION=1.8.0`r`n")
        $change = $deployment | Convert-UpgradeConfiguration -To 2.0.0 -Force
        $change.Action | Should -Be 'Added'
        $change.Applied | Should -BeTrue
        $text = [IO.File]::ReadAllText($envFile)
        $text | Should -Match "^# versions`r`nVERSION=1\.8\.0`r`nAPP_SIGNING_KEY=[0-9a-f]{64}`r`n$"
        $text | Should -Not -Match "(?<!`r)`n"
    }

    It 'keeps the byte order mark of a .env that has one' {
        [IO.File]::WriteAllText($envFile, "VERSION=1.8.0`n", [Text.UTF8Encoding]::new($true))
        $null = $deployment | Convert-UpgradeConfiguration -To 2.0.0 -Force
        $bytes = [IO.File]::ReadAllBytes($envFile)
        $bytes[0..2] | Should -Be @(0xEF, 0xBB, 0xBF)
        [Text.Encoding]::UTF8.GetString($bytes, 3, $bytes.Length - 3) | Should -Match "^VERSION=1\.8\.0`nAPP_SIGNING_KEY=[0-9a-f]{64}`n$"
    }

    It 'edits the last of two assignments, the one compose uses, and leaves the first as it was' {
        [IO.File]::WriteAllText($envFile, "APP_SIGNING_KEY=old-and-unused`r`nVERSION=1.8.0`r`nAPP_SIGNING_KEY=`r`n")
        $null = $deployment | Convert-UpgradeConfiguration -To 2.0.0 -Force
        [IO.File]::ReadAllText($envFile) | Should -Match "^APP_SIGNING_KEY=old-and-unused`r`nVERSION=1\.8\.0`r`nAPP_SIGNING_KEY=[0-9a-f]{64}`r`n$"
    }

    It 'writes a given value that needs quoting in single quotes, and masks it in the diff' {
        [IO.File]::WriteAllText($envFile, "VERSION=1.8.0`n")
        $change = $deployment | Convert-UpgradeConfiguration -To 2.0.0 -ConfigurationValue @{ APP_SIGNING_KEY = 'p@ss #1 $x' } -Force
        [IO.File]::ReadAllText($envFile) | Should -Be "VERSION=1.8.0`nAPP_SIGNING_KEY='p@ss #1 `$x'`n"
        $change.Diff | Should -Match '\+APP_SIGNING_KEY=\*\*\*'
        $change.Diff | Should -Not -Match 'p@ss'
        Assert-RoundTrip $change -Type UpgradeOps.ConfigurationChange -Secret 'p@ss #1 $x'
    }
}

Describe 'Convert-UpgradeConfiguration asks before it changes a deployment''s configuration' -Tag 'Compose', 'Configuration' {
    BeforeEach {
        $script:folder = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory $folder
        [IO.File]::WriteAllText((Join-Path $folder 'docker-compose.yml'), "services:`n  server-a: {image: `"127.0.0.1:5000/sandbox:`${VERSION:-1.8.0}`"}`n")
        $script:envFile = Join-Path $folder '.env'
        [IO.File]::WriteAllText($envFile, "VERSION=1.8.0`r`n")
    }

    It 'is ConfirmImpact High, like Invoke-Upgrade, so the default $ConfirmPreference asks' {
        $attribute = (Get-Command Convert-UpgradeConfiguration).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attribute.ConfirmImpact | Should -Be 'High'
    }

    It 'without -Force in a non-interactive session, fails on the prompt and writes nothing' {
        $child = Invoke-Child $folder ''
        $child.Text | Should -Match 'NonInteractive'
        [IO.File]::ReadAllText($envFile) | Should -Be "VERSION=1.8.0`r`n"
    }

    It 'with -WhatIf shows the masked diff and writes nothing' {
        $child = Invoke-Child $folder '-WhatIf'
        $child.Text | Should -Match 'What if'
        $child.Text | Should -Match '\+APP_SIGNING_KEY=\*\*\*'
        $child.Text | Should -Not -Match 'APP_SIGNING_KEY=[0-9a-f]{64}'
        [IO.File]::ReadAllText($envFile) | Should -Be "VERSION=1.8.0`r`n"
        (Get-ChildItem -Force $folder).Name | Sort-Object | Should -Be @('.env', 'docker-compose.yml')
    }

    It 'with -Force writes without a prompt, also in a non-interactive session' {
        $child = Invoke-Child $folder '-Force'
        $child.ExitCode | Should -Be 0 -Because $child.Text
        [IO.File]::ReadAllText($envFile) | Should -Match "^VERSION=1\.8\.0`r`nAPP_SIGNING_KEY=[0-9a-f]{64}`r`n$"
    }

    It 'with -Confirm:$false writes without a prompt' {
        $child = Invoke-Child $folder '-Confirm:$false'
        $child.ExitCode | Should -Be 0 -Because $child.Text
        [IO.File]::ReadAllText($envFile) | Should -Match 'APP_SIGNING_KEY=[0-9a-f]{64}'
    }
}
