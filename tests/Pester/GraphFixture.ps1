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
