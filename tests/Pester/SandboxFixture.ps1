# Shared by the Pester files that need the sandbox (one deployment at a time: its ports are fixed).
Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/Sandbox.psm1') -Force

function Use-TestSandbox {
    # Each test file starts from a fresh, seeded deployment at the version it asks for (about 12 s): files
    # change versions, data and .env, and a reused deployment would make their order matter.
    param([Parameter(Mandatory)][string] $Version)
    Start-Sandbox -Version $Version -Seed -Force
}

function Get-SandboxContainerName {
    # Compose v1 names containers project_service_1; find them by compose's labels rather than by name.
    param([Parameter(Mandatory)] $Sandbox, [Parameter(Mandatory)][string] $Service)
    docker ps --filter "label=com.docker.compose.project=$($Sandbox.ProjectName)" --filter "label=com.docker.compose.service=$Service" --format '{{.Names}}' |
        Sort-Object | Select-Object -First 1
}

function Get-SandboxDataFingerprint {
    # What a restore or a rollback must bring back: artifact rows and checksums, the files in the artifact
    # storage volume, table row counts, and the synced repository commit.
    param([Parameter(Mandatory)] $Sandbox)
    $artifacts = (Invoke-SandboxGraphQL 'query { Artifacts { name checksum status } }').data.Artifacts
    $server = Get-SandboxContainerName $Sandbox server-a
    $files = docker exec $server sh -c 'cd /opt/sandbox/storage && find . -type f -exec sha256sum {} + | sort -k2'
    $database = Get-SandboxContainerName $Sandbox database
    $counts = docker exec $database psql -h /run/postgresql -p 55432 -U $Sandbox.DatabaseUser -d $Sandbox.DatabaseName -tAc `
        "select relname || '=' || n_live_tup from pg_stat_user_tables order by relname"
    [pscustomobject]@{
        ArtifactRows      = @($artifacts).Count
        ArtifactChecksums = (@($artifacts) | Sort-Object name | ForEach-Object { "$($_.name)=$($_.checksum)" }) -join ';'
        StorageFiles      = ($files -join "`n")
        Repositories      = ((Invoke-SandboxGraphQL 'query { Repositories { name commit } }').data.Repositories | ForEach-Object { "$($_.name)=$($_.commit)" }) -join ';'
        TableRows         = ($counts -join ';')
    }
}

function Invoke-WhatIf {
    # -WhatIf writes to the host, not to a stream: run the command in a fresh pwsh and read what it printed.
    # $d there is the sandbox deployment, read again with the sandbox profile.
    param([Parameter(Mandatory)][string] $Command)
    $sandbox = Get-Sandbox
    $profilePath = Join-Path $env:UPGRADEOPS_ROOT 'tests/Sandbox/profile.yml'
    $script = "Import-Module '$env:UPGRADEOPS_MODULE'; `$d = Get-UpgradeDeployment -ComposeFile '$($sandbox.ComposeFile)' -Profile '$profilePath' -WarningAction SilentlyContinue; $Command"
    $pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    (& $pwsh -NoProfile -NonInteractive -Command $script 2>&1) -join "`n"
}

function Stop-JobAtStep {
    # Runs a command in a thread job that pauses at a step boundary (UPGRADEOPS_PAUSE_AT_STEP), stops it there as Ctrl+C
    # does (StopProcessing), and returns what the job wrote. The job gets -ArgumentList; it imports the module itself.
    param([Parameter(Mandatory)][string] $Step, [Parameter(Mandatory)][scriptblock] $Command, [object[]] $ArgumentList = @(), [int] $TimeoutSeconds = 120)
    $env:UPGRADEOPS_PAUSE_AT_STEP = $Step
    $job = Start-ThreadJob -ScriptBlock $Command -ArgumentList $ArgumentList
    try {
        $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
        while (-not ($job.Warning | Where-Object { "$_" -like "*paused before $Step until*" })) {
            if ($job.State -notin 'Running', 'NotStarted' -or (Get-Date) -gt $deadline) {
                throw "The job did not pause at '$Step' ($($job.State)): $($job | Receive-Job -Keep 2>&1 | Out-String)"
            }
            Start-Sleep -Milliseconds 100
        }
        $job | Stop-Job
        $job | Receive-Job -ErrorAction SilentlyContinue 2>&1 3>&1
    }
    finally {
        Remove-Item Env:UPGRADEOPS_PAUSE_AT_STEP -ErrorAction SilentlyContinue
        $job | Remove-Job -Force
    }
}
