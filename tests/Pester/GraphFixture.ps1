# Shared by the files that run the Neo4j stand-in (Neo4j.Tests.ps1, Infrahub.Tests.ps1): dot-source it in BeforeAll.

function Get-GraphFingerprint {
    <# Node and relationship counts and the content checksum (the stand-in's CALL upgradeops.graph.checksum()), read
       through the HTTP API as the application does (cypher-shell may be the thing a test breaks). #>
    param([Parameter(Mandatory)][string] $Password, [int] $Port = 7474)
    $body = @{ statements = @('MATCH (n) RETURN count(n)', 'MATCH ()-[r]->() RETURN count(r)', 'CALL upgradeops.graph.checksum()' | ForEach-Object { @{ statement = $_ } }) } |
        ConvertTo-Json -Depth 4
    $credential = [PSCredential]::new('neo4j', (ConvertTo-SecureString $Password -AsPlainText -Force))
    $answer = Invoke-RestMethod -Method Post -Uri "http://127.0.0.1:$Port/db/neo4j/tx/commit" -Body $body -ContentType 'application/json' `
        -Authentication Basic -Credential $credential -AllowUnencryptedAuthentication
    if ($answer.errors.Count -gt 0) { throw "graph: $($answer.errors[0].message)" }
    "nodes=$($answer.results[0].data[0].row[0]) relationships=$($answer.results[1].data[0].row[0]) checksum=$($answer.results[2].data[0].row[0])"
}

# The gate: neo4j-admin in the database container replaced by a script that, for a dump or a load (not --info),
# writes its process id to $reached and waits (60 s at most) for $open before it runs the real one. A test kills the
# cmdlet while neo4j-admin is surely running, and the server surely held stopped, whatever the sizes. The test file sets
# $GateDatabase (a scriptblock: the database container's name), $GatePrelude (what the killed pwsh runs before the
# command: Import-Module, $d = the deployment) and $pwsh in its BeforeAll.
$script:reached = '/tmp/upgradeops-test-gate-reached'
$script:open = '/tmp/upgradeops-test-gate-open'
$script:gate = @(
    '#!/bin/sh'
    'case "$1 $2 $3" in "database dump "*|"database load --from-stdin"*)'
    "  echo `$`$ > $reached; i=0"
    "  while [ ! -e $open ] && [ `$i -lt 600 ]; do sleep 0.1; i=`$((i + 1)); done;;"
    'esac'
    'exec python3 /opt/neo4j-standin/graphstore.py neo4j-admin "$@"'
) -join "`n"
function Set-AdminGate([switch] $Remove) {
    $db = & $GateDatabase
    if ($Remove) {
        docker exec $db sh -c "rm -f $reached $open; printf '#!/bin/sh\nexec python3 /opt/neo4j-standin/graphstore.py neo4j-admin `"`$@`"\n' > /usr/local/bin/neo4j-admin"
    }
    else {
        $gate | docker exec -i $db sh -c "rm -f $reached $open; cat > /usr/local/bin/neo4j-admin"
    }
    $LASTEXITCODE | Should -Be 0
}
function Get-HeldState {
    # The server's process: the one the watchdog froze (its marker), State T while held.
    $db = & $GateDatabase
    docker exec $db sh -c 'p=$(cat /tmp/upgradeops-neo4j-held) && sed -n "s/^State:\t//p" /proc/$p/status' 2>$null
}
# Starts $Command (after $GatePrelude) in its own pwsh, its output in .Log and its error, if any, in .Result as JSON;
# returns when neo4j-admin has reached the gate, the server held stopped.
function Start-AtGate([string] $Command) {
    Set-AdminGate
    $log = Join-Path $TestDrive "at-gate-$([guid]::NewGuid().ToString('N')).log"
    $script = $GatePrelude +
        "try { $Command -ErrorAction Stop | Out-Null } catch { @{ Id = `$_.FullyQualifiedErrorId; Category = [string] `$_.CategoryInfo.Category; " +
        "Target = [string] `$_.TargetObject; Message = `$_.Exception.Message } | ConvertTo-Json -Compress | Set-Content '$log.result' }"
    $process = Start-Process -FilePath $pwsh -ArgumentList '-NoProfile', '-NonInteractive', '-Command', $script -PassThru -RedirectStandardOutput $log -RedirectStandardError "$log.err"
    $db = & $GateDatabase
    $deadline = (Get-Date).AddSeconds(60)
    while ((Get-Date) -lt $deadline -and -not $process.HasExited) {
        docker exec $db test -e $reached
        if ($LASTEXITCODE -eq 0) { break }
        Start-Sleep -Milliseconds 200
    }
    $process.HasExited | Should -BeFalse -Because "the cmdlet must still run at the gate (log: $(Get-Content -Raw $log, "$log.err", "$log.result" -ErrorAction SilentlyContinue))"
    [pscustomobject]@{ Process = $process; Log = $log; Result = "$log.result" }
}
# Lets neo4j-admin go on; with -Wait, waits (10 s at most) until it has ended, and says whether it did.
function Open-AdminGate([switch] $Wait) {
    $db = & $GateDatabase
    if (-not $Wait) { docker exec $db touch $open; $LASTEXITCODE | Should -Be 0; return }
    $admin = docker exec $db cat $reached
    docker exec $db sh -c "touch $open; i=0; while kill -0 $admin 2>/dev/null && [ `$i -lt 100 ]; do sleep 0.1; i=`$((i + 1)); done; ! kill -0 $admin 2>/dev/null"
    $LASTEXITCODE -eq 0
}
# Kills the cmdlet at the gate (SIGKILL: no finally runs), then lets neo4j-admin go on, as it would, its caller gone.
function Invoke-KilledAtGate([string] $Command) {
    $run = Start-AtGate $Command
    $held = Get-HeldState
    Stop-Process -Id $run.Process.Id -Force
    $run.Process.WaitForExit()
    $ended = Open-AdminGate -Wait
    Set-AdminGate -Remove
    [pscustomobject]@{ HeldState = $held; AdminEnded = $ended }
}
