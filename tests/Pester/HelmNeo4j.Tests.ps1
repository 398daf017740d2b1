# Neo4j on Helm, and how the migration runs there: the built-in infrahub profile backs up, verifies and restores the graph database of the real
# opsmill/infrahub-helm chart 4.1.13 (the corpus copy with our stand-in subcharts, Corpus.ps1), installed by the real
# helm into the test API server (tests/KubeApiServer). The database pod's exec is forwarded to a container of the Neo4j 5
# stand-in (tests/Sandbox/images/neo4j) started here, given the NEO4J_AUTH and NEO4J_EDITION the chart's Secret
# (NAME-auth) and ConfigMap (FULLNAME-env) give the real pod through envFrom. Verified against that test server and the
# stand-in only, never a real cluster or a real Neo4j. Skipped where the corpus is not on the machine.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    $script:corpusMissing = -not (Find-SharedCorpus 'infrahub-helm/chart-4.1.13/Chart.yaml')
}
BeforeAll {
    $script:savedDataHome = $env:XDG_DATA_HOME
    $script:server = $null; $script:graph = $null
    Import-Module $env:UPGRADEOPS_MODULE -Force
    Import-Module (Join-Path $env:UPGRADEOPS_ROOT 'tests/Kubernetes/KubeTestServer.psm1') -Force
    . (Join-Path $PSScriptRoot 'Corpus.ps1')
    function Get-ErrorFrom([scriptblock] $Action) { try { & $Action | Out-Null; $null } catch { $_ } }
    $env:XDG_DATA_HOME = Join-Path $TestDrive 'data'
    $script:backups = Join-Path $TestDrive 'backups'
    if ($corpusMissing) { return }

    $script:chart = Copy-InfrahubChart (Join-Path $TestDrive 'infrahub')
    # A password of this run's own, so none of the output may contain it.
    $script:password = "neo4j-canary-$([guid]::NewGuid().ToString('n').Substring(0, 10))"
    $httpPort = Get-KubeTestFreePort -Range (56500..56999)
    $boltPort = Get-KubeTestFreePort -Range (56500..56999) | Where-Object { $_ -ne $httpPort } | Select-Object -First 1
    if (-not $boltPort) { $boltPort = $httpPort + 1 }
    $script:graph = "upgradeops-kubetest-neo4j-$PID"
    # --restart always: a Community dump ends the held server, and the kubelet would restart the pod's container.
    $null = & docker run -d --name $graph --network host --restart always -e "NEO4J_AUTH=neo4j/$password" -e NEO4J_EDITION=COMMUNITY_K8S `
        -e "NEO4J_server_http_listen__address=127.0.0.1:$httpPort" -e "NEO4J_server_bolt_listen__address=127.0.0.1:$boltPort" `
        -e NEO4J_dbms_security_auth__minimum__password__length=4 127.0.0.1:5000/upgradeops/neo4j:5-community
    if ($LASTEXITCODE -ne 0) { throw "docker run $graph failed" }
    function Invoke-Cypher([string] $Statement) {
        $output = & docker exec -e NEO4J_USERNAME=neo4j -e "NEO4J_PASSWORD=$password" $graph cypher-shell --format plain $Statement 2>&1
        if ($LASTEXITCODE -ne 0) { throw "cypher-shell: $output" }
        $output
    }
    function Get-GraphFingerprint {
        $nodes = Invoke-Cypher 'MATCH (n) RETURN count(n)'
        $relationships = Invoke-Cypher 'MATCH ()-[r]->() RETURN count(r)'
        $checksum = Invoke-Cypher 'CALL upgradeops.graph.checksum()'
        "nodes=$($nodes[-1]) relationships=$($relationships[-1]) checksum=$($checksum[-1])"
    }
    $deadline = (Get-Date).AddSeconds(60)
    while ($true) {
        try { $null = Invoke-Cypher 'MATCH (n) RETURN count(n)'; break } catch { if ((Get-Date) -gt $deadline) { throw "the Neo4j stand-in in $graph did not answer: $_" } }
        Start-Sleep -Milliseconds 500
    }
    $null = Invoke-Cypher "UNWIND range(1, 200) AS i CREATE (:Device {id: i, name: 'device', role: 'edge'})"
    $null = Invoke-Cypher "MATCH (a:Device {id: 1}), (b:Device {id: 2}) CREATE (a)-[:CONNECTED {port: 1}]->(b)"
    $script:before = Get-GraphFingerprint

    # -RunPods: the restore test's scratch pod runs as a container of its image (the workloads stay in memory).
    $script:server = Start-KubeTestServer -DockerWorkload @{ 'ih/ih-database' = $graph } -RunPods
    # The neo4j chart's own image.customImage: the database pod's image is the stand-in's, so the scratch pod made from it
    # is too (nothing is pulled from outside).
    $install = Invoke-TestHelm $server install ih $chart -n ih --create-namespace --set "neo4j.neo4j.password=$password" `
        --set "neo4j.image.customImage=127.0.0.1:5000/upgradeops/neo4j:5-community"
    if ($install.ExitCode -ne 0) { throw "helm install failed: $($install.Error)" }
    # The built-in profile: no -Profile.
    function Get-Ih { Get-UpgradeDeployment -Namespace ih -Release ih -Kubeconfig $server.KubeconfigPath -WarningAction SilentlyContinue }
    function Get-Replicas([string] $Name) {
        (Invoke-RestMethod -Uri "$($server.Url)/apis/apps/v1/namespaces/ih/deployments/$Name").spec.replicas
    }
}
AfterAll {
    if ($script:server) { $script:server | Stop-KubeTestServer }
    $env:XDG_DATA_HOME = $script:savedDataHome
    if ($script:graph) { $null = & docker rm -f -v $script:graph 2>&1 }
}

Describe 'The Neo4j of the real Infrahub chart on Helm, with the built-in profile' -Tag 'Kubernetes', 'Helm' -Skip:$corpusMissing {
    It '-WhatIf lists the Neo4j dump from the database pod and writes nothing' {
        # The built-in profile's own file (Invoke-KubeTestWhatIf names one).
        $builtIn = Join-Path $env:UPGRADEOPS_ROOT 'src/UpgradeOps.Engine/Profiles/BuiltIn/infrahub.yml'
        $out = Invoke-KubeTestWhatIf $server ih ih $builtIn "`$d | New-DeploymentBackup -Path '$backups' -Component database -WhatIf"
        $out | Should -Match 'database \(Neo4jDump\) from Neo4j in a pod of ih/ih-database'
        $backups | Should -Not -Exist
    }

    It 'dumps it offline through the pod exec, the application scaled to 0 meanwhile and back afterwards, and no password in any stream' {
        $serverReplicas = Get-Replicas 'ih-infrahub-infrahub-server'
        $output = Get-Ih | New-DeploymentBackup -Path $backups -Component database -Verbose 4>&1 3>&1 2>&1 6>&1 | ForEach-Object { $_ }
        $script:b = $output | Where-Object { $_ -is [psobject] -and $_.PSObject.TypeNames -contains 'UpgradeOps.DeploymentBackup' } | Select-Object -Last 1
        $b | Should -Not -BeNullOrEmpty -Because ($output | Out-String)
        $dump = $b.Components | Where-Object Name -eq 'database'
        $dump.Kind | Should -Be 'Neo4jDump'
        $dump.Source | Should -Match "database 'neo4j' \(Community offline dump\)"
        $dump.SizeBytes | Should -BeGreaterThan 0
        ($output | Out-String) | Should -Match 'to 0 for the offline dump'
        # The Neo4j steps log through the cmdlet, as on Compose.
        ($output | Out-String) | Should -Match "Dumping Neo4j database neo4j in .+ with neo4j-admin database dump --to-stdout"
        ($output | Out-String) | Should -Not -Match ([regex]::Escape($password))
        Get-ChildItem -Recurse -File $b.Path | Select-String -SimpleMatch $password | Should -BeNullOrEmpty
        # The application is back at its replicas, and the database answers with the data it had.
        Get-Replicas 'ih-infrahub-infrahub-server' | Should -Be $serverReplicas
        Get-GraphFingerprint | Should -Be $before
    }

    It 'is verified by Test-DeploymentBackup: neo4j-admin reads the dump in the pod, and -RestoreTest loads and checks it in a scratch pod that is deleted afterwards' {
        $v = $b | Test-DeploymentBackup -Deployment (Get-Ih) -RestoreTest -Verbose 4>&1 | ForEach-Object { $_ } | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $table = $v.Checks | Format-Table -AutoSize -Wrap | Out-String
        ($v.Checks | Where-Object Name -eq 'Dump database').Status | Should -Be 'Passed' -Because $table
        $restoreTest = $v.Checks | Where-Object Name -eq 'RestoreTest database'
        $restoreTest.Status | Should -Be 'Passed' -Because $table
        $restoreTest.Detail | Should -Match "scratch pod of the database's image.*neo4j-admin database check passed"
        # The pod and the container behind it are gone; the live graph was not touched.
        (Invoke-RestMethod -Uri "$($server.Url)/api/v1/namespaces/ih/pods?labelSelector=org.upgradeops.purpose%3Dneo4j-restore-test").items | Should -BeNullOrEmpty
        $deadline = (Get-Date).AddSeconds(10)
        while ((& docker ps -aq --filter "label=io.upgradeops.kubetest=$($server.ContainerPrefix)") -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 300 }
        & docker ps -aq --filter "label=io.upgradeops.kubetest=$($server.ContainerPrefix)" | Should -BeNullOrEmpty
        Get-GraphFingerprint | Should -Be $before
    }

    It 'is loaded back over the changed graph by Restore-DeploymentBackup, which leaves the application scaled as it was' {
        $null = Invoke-Cypher 'UNWIND range(1, 20) AS i CREATE (:AfterBackup {id: i})'
        Get-GraphFingerprint | Should -Not -Be $before
        $restored = $b | Restore-DeploymentBackup -Deployment (Get-Ih) -Force -WarningVariable warnings -WarningAction SilentlyContinue
        $restored | Should -Not -BeNullOrEmpty
        Get-GraphFingerprint | Should -Be $before
        @($warnings | Where-Object { "$_" -match 'not restored on Kubernetes' }) | Should -BeNullOrEmpty
        Get-Replicas 'ih-infrahub-infrahub-server' | Should -BeGreaterThan 0
        # The database's pod restarted with its server: the restore waited until it was ready, not only answering.
        (Get-Ih).Healthy | Should -BeTrue
    }

    It 'holds a server that exited before the watchdog froze it again once it answers (its exec refused meanwhile): the load goes on and says so' {
        $null = Invoke-Cypher 'UNWIND range(1, 5) AS i CREATE (:AfterBackup {id: i})'
        # The stand-in's one-shot fault: its next shutdown ends the process before its pid file goes, so the watchdog cannot
        # freeze it and the container restarts; pod execs are refused until it is back.
        & docker exec $graph touch /data/upgradeops-standin-exit-early
        $restored = $b | Restore-DeploymentBackup -Deployment (Get-Ih) -Force -WarningVariable warnings -WarningAction SilentlyContinue
        $restored | Should -Not -BeNullOrEmpty
        $warned = $warnings -join "`n"
        Write-Host "warnings: $warned"
        $warned | Should -Match 'The Neo4j server \(process \d+\) in pod ih/\S+ \(container neo4j\) exited before it could be held stopped.+\(attempt 2 of 3\)'
        & docker exec $graph test -e /data/upgradeops-standin-exit-early
        $LASTEXITCODE | Should -Be 1 -Because 'the fault fires once'
        Get-GraphFingerprint | Should -Be $before
    }

    It 'plans the migration by pod exec in the server, because chart 4.1.13 renders no upgrade Job, and says so with -WhatIf' {
        # Before, an upgrade on this chart reported the migration done without 'infrahub upgrade' ever running.
        $builtIn = Join-Path $env:UPGRADEOPS_ROOT 'src/UpgradeOps.Engine/Profiles/BuiltIn/infrahub.yml'
        $helm = Get-Helm
        $out = Invoke-KubeTestWhatIf $server ih ih $builtIn "`$d | Test-UpgradePath -To 1.1.9 -AvailableVersion 1.1.9 | Invoke-Upgrade -Chart '$chart' -HelmPath '$helm' -SkipBackup -WhatIf"
        $out | Should -Match "the migration 'infrahub upgrade' by pod exec in a pod of infrahub-server .* at the new version, because the chart renders no Job 'infrahub-upgrade' for this upgrade \(set upgrade\.enabled=true"
        $out | Should -Match '--set global\.infrahubTag=1\.1\.9'
    }
}
