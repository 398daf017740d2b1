# The sandbox itself (tests/Sandbox): its images in the registry, its API, its workers and its migrations,
# on a real deployment created by Debian's docker-compose on a real Docker Engine.
BeforeAll {
    $root = if ($env:UPGRADEOPS_ROOT) { $env:UPGRADEOPS_ROOT } else { (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path }
    Import-Module (Join-Path $root 'tests/Sandbox/Sandbox.psm1') -Force
    Initialize-SandboxHost | Out-Null
    Build-SandboxImage | Out-Null
    $script:sandbox = Start-Sandbox -Version 1.7.5 -Seed -Force
    $script:api = $sandbox.ApiEndpoint

    function script:Get-Http([string] $Uri) {
        $r = Invoke-WebRequest -Uri $Uri -SkipHttpErrorCheck -NoProxy -TimeoutSec 10
        [pscustomobject]@{ Status = [int]$r.StatusCode; Text = [string]$r.Content; Json = ($r.Content | ConvertFrom-Json -ErrorAction SilentlyContinue) }
    }
    function script:Invoke-Psql([string] $Sql) {
        $r = Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Path $sandbox.Path -Arguments @(
            'exec', '-T', 'database', 'psql', '-U', 'sandbox', '-d', 'sandbox', '-tA', '-c', $Sql)
        @($r.Output | Where-Object { $_ -and $_ -notmatch '^(Creating|Starting)' })
    }
    function script:Invoke-Role([string] $Version, [string[]] $Arguments, [hashtable] $Environment = @{}) {
        # The upgrade guide's manual way: a one-off container of server-a with another image version.
        $envVars = @{ VERSION = $Version } + $Environment
        Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Path $sandbox.Path -Environment $envVars -AllowFailure -Arguments (
            @('run', '--rm', '-T', '--no-deps', 'server-a', 'sandbox') + $Arguments)
    }
    function script:Wait-Until([scriptblock] $Condition, [int] $Seconds = 30, [string] $What = 'the condition') {
        $deadline = (Get-Date).AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ((Get-Date) -gt $deadline) { throw "Timed out after $Seconds s waiting for $What" }
            Start-Sleep -Milliseconds 300
        }
    }
}

AfterAll {
    Stop-Sandbox -ProjectName 'upgradeops-sandbox' -RemoveVolumes | Out-Null
}

Describe 'Sandbox images' -Tag 'Sandbox' {
    It 'has every application version in the registry' {
        $tags = (Get-Http 'http://127.0.0.1:5000/v2/upgradeops/sandbox/tags/list').Json.tags
        foreach ($version in '1.6.4', '1.7.5', '1.7.6', '1.7.7', '1.8.0', '2.0.0') { $tags | Should -Contain $version }
    }

    It 'has the database, cache and load balancer images in the registry' {
        (Get-Http 'http://127.0.0.1:5000/v2/upgradeops/postgres/tags/list').Json.tags | Should -Contain '15'
        (Get-Http 'http://127.0.0.1:5000/v2/upgradeops/redis/tags/list').Json.tags | Should -Contain '7'
        (Get-Http 'http://127.0.0.1:5000/v2/upgradeops/nginx/tags/list').Json.tags | Should -Contain '1'
    }

    It 'skips a rebuild when nothing changed' {
        $result = Build-SandboxImage 6>$null
        $result.Built | Should -Not -Contain $true
        $result.Pushed | Should -Not -Contain $true
    }
}

Describe 'Sandbox deployment' -Tag 'Sandbox' {
    It 'runs seven healthy containers made by docker-compose, two of them workers' {
        $s = Get-Sandbox -ProjectName $sandbox.ProjectName -Path $sandbox.Path
        $s.Healthy | Should -BeTrue
        $s.Containers.Count | Should -Be 7
        @($s.Containers | Where-Object { $_ -like '*_worker_*' }).Count | Should -Be 2
        $labels = docker inspect --format '{{index .Config.Labels "com.docker.compose.project"}} {{.HostConfig.NetworkMode}}' $s.Containers
        $labels | Should -Not -Contain $null
        $labels | ForEach-Object { $_ | Should -Be "$($sandbox.ProjectName) host" }
    }

    It 'created no Docker network' {
        $networks = docker network ls --format '{{.Name}}'
        $networks | Where-Object { $_ -notin 'bridge', 'host', 'none' } | Should -BeNullOrEmpty
    }

    It 'writes the version and generated secrets to the .env' {
        $envText = Get-Content -Raw (Join-Path $sandbox.Path '.env')
        $envText | Should -Match '(?m)^VERSION=1\.7\.5$'
        $envText | Should -Match '(?m)^POSTGRES_PASSWORD=[0-9a-f]{32}$'
        $envText | Should -Match '(?m)^APP_CANARY_SECRET=canary-[0-9a-f]{16}$'
        $envText | Should -Not -Match 'APP_SIGNING_KEY='
        $sandbox.DatabaseUrl | Should -Be 'postgresql://sandbox@127.0.0.1:55432/sandbox'
        $sandbox.DatabasePassword | Should -BeOfType [securestring]
    }

    It 'checks a container again at once after docker unpause, which leaves it unhealthy until a check passes' {
        # The base image's paced-health waits 20 s before a check only after a pass on schedule: a backup pauses the
        # writers, and whatever comes next waits for them to be healthy again.
        $worker = @((Get-Sandbox -ProjectName $sandbox.ProjectName -Path $sandbox.Path).Containers | Where-Object { $_ -like '*_worker_*' })[0]
        $health = { docker inspect --format '{{json .State.Health}}' $worker | ConvertFrom-Json }
        Wait-Until { (& $health).Status -eq 'healthy' } -What "$worker healthy"
        # Longer than the worker's 2 s interval plus a second, so it is seen whether the pause froze a check or fell between two.
        docker pause $worker | Out-Null
        try {
            Start-Sleep -Seconds 4
            (& $health).Status | Should -Be 'unhealthy'
        }
        finally {
            # Taken before the unpause: Docker's first check comes 2 s after it, and a loaded machine can take longer than
            # that to return from `docker unpause`.
            $unpaused = [DateTimeOffset]::UtcNow
            docker unpause $worker | Out-Null
        }
        Wait-Until { (& $health).Status -eq 'healthy' } -What "$worker healthy after docker unpause"
        $first = @((& $health).Log | Where-Object { [DateTimeOffset]$_.Start -gt $unpaused })[0]
        $first.ExitCode | Should -Be 0
        ([DateTimeOffset]$first.End - [DateTimeOffset]$first.Start).TotalSeconds | Should -BeLessThan 8 -Because 'the first check after an unpause must not wait out the pace'
    }
}

Describe 'Sandbox API' -Tag 'Sandbox' {
    It 'answers /api/info with the deployment id and the version' {
        $r = Get-Http "$api/api/info"
        $r.Status | Should -Be 200
        $r.Json.version | Should -Be '1.7.5'
        $r.Json.deployment_id | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    }

    It 'answers on both API servers and the load balancer with the same deployment' {
        $ids = foreach ($endpoint in @($api) + $sandbox.ServerEndpoints) {
            $r = Get-Http "$endpoint/api/info"
            $r.Status | Should -Be 200
            $r.Json.version | Should -Be '1.7.5'
            $r.Json.deployment_id
        }
        @($ids | Sort-Object -Unique).Count | Should -Be 1
    }

    It 'shows its configuration without any secret' {
        $r = Get-Http "$api/api/config"
        $r.Status | Should -Be 200
        $r.Json.main.version | Should -Be '1.7.5'
        $r.Json.database.port | Should -Be 55432
        $r.Json.security.signing_key_configured | Should -BeFalse
        $password = ConvertFrom-SecureString -SecureString $sandbox.DatabasePassword -AsPlainText
        $canary = ConvertFrom-SecureString -SecureString $sandbox.CanarySecret -AsPlainText
        $r.Text | Should -Not -Match ([regex]::Escape($password))
        $r.Text | Should -Not -Match ([regex]::Escape($canary))
        $r.Text | Should -Not -Match 'password'
    }

    It 'is healthy with its database and cache' {
        $r = Get-Http "$api/health"
        $r.Status | Should -Be 200
        $r.Json.status | Should -Be 'ok'
        $r.Json.checks.database | Should -Be 'ok'
        $r.Json.checks.cache | Should -Be 'ok'
    }

    It 'answers 503 naming the cache while the cache is stopped, and recovers' {
        Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Path $sandbox.Path -Arguments @('stop', 'cache') | Out-Null
        try {
            $r = Get-Http "$($sandbox.ServerEndpoints[0])/health"
            $r.Status | Should -Be 503
            $r.Json.status | Should -Be 'error'
            $r.Json.checks.cache | Should -Be 'error'
            $r.Json.checks.database | Should -Be 'ok'
            (docker logs --tail 20 "$($sandbox.ProjectName)_server-a_1" 2>&1) -join "`n" | Should -Match '(?m)^ERROR GET /health 503 [0-9.]+ms cache: '
        }
        finally {
            Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Path $sandbox.Path -Arguments @('start', 'cache') | Out-Null
        }
        Wait-Until { (Get-Http "$api/health").Status -eq 200 } -What 'the health to come back'
        Wait-SandboxHealthy -ProjectName $sandbox.ProjectName -TimeoutSeconds 60 | Out-Null
    }

    It 'logs one line per request with method, path, status and duration' {
        $null = Get-Http "$($sandbox.ServerEndpoints[1])/api/info"
        (docker logs --tail 20 "$($sandbox.ProjectName)_server-b_1" 2>&1) -join "`n" | Should -Match '(?m)^INFO GET /api/info 200 [0-9.]+ms$'
    }

    It 'answers the GraphQL version query like Infrahub' {
        $r = Invoke-SandboxGraphQL 'query { InfrahubInfo { version } }'
        $r.data.InfrahubInfo.version | Should -Be '1.7.5'
        ($r | ConvertTo-Json -Compress -Depth 5) | Should -Be '{"data":{"InfrahubInfo":{"version":"1.7.5"}}}'
    }

    It 'answers an unknown query with errors and no data' {
        $r = Invoke-SandboxGraphQL 'query { NoSuchThing { version } }'
        $r.PSObject.Properties.Name | Should -Not -Contain 'data'
        $r.errors[0].message | Should -Match 'Cannot query field "NoSuchThing"'
        $bad = Invoke-WebRequest -Uri "$api/graphql" -Method POST -Body 'not json' -ContentType 'application/json' -SkipHttpErrorCheck -NoProxy
        [int]$bad.StatusCode | Should -Be 400
        ($bad.Content | ConvertFrom-Json).errors | Should -Not -BeNullOrEmpty
    }

    It 'lists the seeded artifacts, ready, with the SHA-256 of the stored file' {
        $r = Invoke-SandboxGraphQL 'query { Artifacts { name checksum status } }'
        $r.data.Artifacts.Count | Should -Be 200
        $r.data.Artifacts.status | Sort-Object -Unique | Should -Be 'ready'
        $r.data.Artifacts | ForEach-Object { $_.checksum | Should -Match '^[0-9a-f]{64}$' }
        $first = $r.data.Artifacts | Where-Object name -eq 'device-001'
        $file = Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Path $sandbox.Path -Arguments @(
            'exec', '-T', '--index=2', 'worker', 'sha256sum', '/opt/sandbox/storage/artifacts/device-001.txt')
        ($file.Output -join "`n") | Should -Match "^$($first.checksum)\s"
    }

    It 'regenerates an artifact through the workers' {
        $definition = "hostname regenerated-$(Get-Random)"
        $r = Invoke-SandboxGraphQL 'mutation Regenerate($name: String!, $definition: String) { ArtifactGenerate(name: $name, definition: $definition) { name status } }' -Variables @{ name = 'device-042'; definition = $definition }
        $r.data.ArtifactGenerate.name | Should -Be 'device-042'
        $r.data.ArtifactGenerate.status | Should -Be 'pending'
        Wait-Until { (Invoke-SandboxGraphQL 'query { Artifacts(name: "device-042") { status } }').data.Artifacts[0].status -eq 'ready' } -What 'device-042 to be ready'
        $content = "# artifact: device-042`n# generated by the UpgradeOps sandbox`n$definition`n"
        $expected = [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData([Text.Encoding]::UTF8.GetBytes($content))).ToLowerInvariant()
        (Invoke-SandboxGraphQL 'query { Artifacts(name: "device-042") { checksum } }').data.Artifacts[0].checksum | Should -Be $expected
    }

    It 'syncs the Git repository to the head commit, and again after a new commit' {
        $repo = (Invoke-SandboxGraphQL 'query { Repositories { name sync_status commit branch } }').data.Repositories[0]
        $repo.name | Should -Be 'sandbox-config'
        $repo.sync_status | Should -Be 'in-sync'
        $repo.branch | Should -Be 'main'
        $repo.commit | Should -Be $sandbox.RepositoryCommit
        $commit = Add-SandboxRepositoryCommit -ProjectName $sandbox.ProjectName -Path $sandbox.Path -Message 'Add a device'
        $commit | Should -Match '^[0-9a-f]{40}$'
        $commit | Should -Not -Be $sandbox.RepositoryCommit
        $sync = Invoke-SandboxGraphQL 'mutation { RepositorySync(name: "sandbox-config") { sync_status } }'
        $sync.data.RepositorySync.sync_status | Should -Be 'syncing'
        Wait-Until { $r = (Invoke-SandboxGraphQL 'query { Repositories(name: "sandbox-config") { sync_status commit } }').data.Repositories[0]; $r.sync_status -eq 'in-sync' -and $r.commit -eq $commit } -What 'the repository sync'
    }

    It 'has both workers running and doing jobs' {
        $workers = docker ps --filter "label=com.docker.compose.project=$($sandbox.ProjectName)" --filter 'label=com.docker.compose.service=worker' --format '{{.Names}} {{.State}}'
        @($workers).Count | Should -Be 2
        $workers | ForEach-Object { $_ | Should -Match ' running$' }
        $jobs = (Invoke-SandboxGraphQL 'query { JobSummary { pending running done failed } }').data.JobSummary
        $jobs.done | Should -BeGreaterOrEqual 201
        $jobs.failed | Should -Be 0
    }
}

Describe 'Sandbox migrations, the upgrade guide''s manual way' -Tag 'Sandbox' {
    BeforeAll {
        # docker-compose v1 links a one-off container to the running containers of its service, which host
        # networking refuses: stop server-a (server-b keeps serving through the load balancer) before `run`.
        Invoke-SandboxCompose -ProjectName $sandbox.ProjectName -Path $sandbox.Path -Arguments @('stop', 'server-a') | Out-Null
    }

    It 'lists the pending 1.7.6 migration with upgrade --check (exit 2)' {
        $r = Invoke-Role '1.7.6' @('upgrade', '--check')
        $r.ExitCode | Should -Be 2
        ($r.Output -join "`n") | Should -Match 'pending migration 1\.7\.6 \(schema, mixed-version safe\)'
        Invoke-Psql 'SELECT max(version) FROM schema_migrations' | Should -Be '1.7.5'
    }

    It 'applies 1.7.6 with docker-compose run while the 1.7.5 server-b keeps serving' {
        $r = Invoke-Role '1.7.6' @('upgrade')
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        ($r.Output -join "`n") | Should -Match 'database schema is now at 1\.7\.6'
        Invoke-Psql 'SELECT version FROM schema_migrations ORDER BY version' | Should -Be @('1.6.4', '1.7.5', '1.7.6')
        Invoke-Psql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'artifacts' AND column_name = 'size_bytes'" | Should -Be '1'
        (Get-Http "$api/api/info").Json.version | Should -Be '1.7.5'
        (Invoke-Role '1.7.6' @('upgrade', '--check')).ExitCode | Should -Be 0
    }

    It 'fails the broken 1.7.7 migration with exit 1 and leaves the schema unchanged' {
        $r = Invoke-Role '1.7.7' @('upgrade')
        $r.ExitCode | Should -Be 1
        $text = $r.Output -join "`n"
        $text | Should -Match '(?m)^ERROR migration 1\.7\.7 failed: '
        $text | Should -Match 'rolled back: the database schema is still at 1\.7\.6'
        Invoke-Psql 'SELECT version FROM schema_migrations ORDER BY version' | Should -Be @('1.6.4', '1.7.5', '1.7.6')
        Invoke-Psql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'artifacts' AND column_name = 'labels'" | Should -Be '0'
    }

    It 'refuses to start a 2.0.0 server without APP_SIGNING_KEY (exit 3)' {
        $r = Invoke-Role '2.0.0' @('server')
        $r.ExitCode | Should -Be 3
        $r.Output | Should -Contain 'ERROR configuration value APP_SIGNING_KEY is required since 2.0.0'
    }

    It 'refuses to start a 1.8.0 server before its migration (exit 2)' {
        $r = Invoke-Role '1.8.0' @('server')
        $r.ExitCode | Should -Be 2
        ($r.Output -join "`n") | Should -Match 'ERROR database schema 1\.7\.6 is older than this version 1\.8\.0.*run the upgrade command'
    }

    It 'runs the 1.8.0 data migration over every row in batches, logging progress' {
        $r = Invoke-Role '1.8.0' @('upgrade') -Environment @{ APP_MIGRATION_BATCH_SIZE = '5000' }
        $r.ExitCode | Should -Be 0 -Because ($r.Output -join "`n")
        $r.Output | Should -Contain 'INFO migrating artifacts: 200/200 (100%)'
        $r.Output | Should -Contain 'INFO migrating bulk records: 5000/20000 (25%)'
        $r.Output | Should -Contain 'INFO migrating bulk records: 20000/20000 (100%)'
        Invoke-Psql 'SELECT count(*) FROM bulk_records WHERE format_version = 2 AND payload_checksum IS NOT NULL' | Should -Be '20000'
        Invoke-Psql "SELECT count(*) FROM artifacts WHERE checksum_algorithm = 'sha256'" | Should -Be '200'
    }

    It 'refuses to start a 1.7.5 server on the 1.8.0 schema (exit 4, no downgrade)' {
        $r = Invoke-Role '1.7.5' @('server')
        $r.ExitCode | Should -Be 4
        ($r.Output -join "`n") | Should -Match 'ERROR database schema 1\.8\.0 is newer than this version 1\.7\.5'
    }
}
