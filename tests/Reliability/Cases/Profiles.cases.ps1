# Product profiles (-Profile, or the Profile a Deployment carries) as users get them wrong: missing, a folder, a link
# loop, empty, not YAML, YAML of the wrong shape or type, unknown keys, references to services the profile does not
# declare, values no check can use, a file far too large. The profile is read before any engine is contacted, so each
# is answered without one; a good profile in an odd path must work (Test-UpgradePath) or get as far as the engine.
$sandboxProfile = Join-Path $PSScriptRoot '../../Sandbox/profile.yml' | Resolve-Path | ForEach-Object Path
# The smallest valid profile; cases add the one thing they get wrong.
$minimal = "name: mine`nservices:`n  - name: web`n    role: Api`n"

function New-ProfileCase([string] $Name, [string] $Text, [string] $Message) {
    @{
        Name = "Test-UpgradePath -Profile with $Name"
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'profile.yml'), $Text) }.GetNewClosure()
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'profile.yml') }
        ErrorId = 'InvalidProfile'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'profile.yml' }
        Message = $Message
    }
}

# Where the position is known, the message gives file:line:column.
$at = '[/\\]profile\.yml:\d+:\d+: '
@(
    @{
        Name = 'Test-UpgradePath -Profile of a file that does not exist'
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'profile.yml') }
        ErrorId = 'ProfileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'profile.yml' }
    }
    @{
        Name = 'Test-UpgradePath -Profile of a misspelled built-in name'
        Run = { Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile infrahb }
        ErrorId = 'ProfileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'infrahb' }; Message = 'infrahub'
    }
    @{
        Name = 'Test-UpgradePath -Profile of an empty string'
        Run = { Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile '' }
        ErrorId = 'ProfileNotFound'; Category = 'InvalidArgument'; Target = ''
    }
    @{
        Name = 'Test-UpgradePath -Profile of a folder'
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile $Dir }
        ErrorId = 'ProfileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) $Dir }; Message = 'folder'
    }
    @{
        Name = 'Test-UpgradePath -Profile of a folder named like a profile'
        Setup = { param($Dir) $null = New-Item -ItemType Directory (Join-Path $Dir 'profile.yml') }
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'profile.yml') }
        ErrorId = 'ProfileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'profile.yml' }; Message = 'folder'
    }
    @{
        Name = 'Test-UpgradePath -Profile of a symbolic link loop'
        Setup = { param($Dir)
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'a.yml'), (Join-Path $Dir 'b.yml'))
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'b.yml'), (Join-Path $Dir 'a.yml')) }
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'a.yml') }
        ErrorId = 'ProfileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'a.yml' }; Message = 'link'
    }
    @{
        Name = 'Get-UpgradeDeployment -Profile of a symbolic link loop'
        Setup = { param($Dir)
            $null = Write-SandboxCompose (Join-Path $Dir 'docker-compose.yml')
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'a.yml'), (Join-Path $Dir 'a.yml')) }
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') -Profile (Join-Path $Dir 'a.yml') }
        ErrorId = 'ProfileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'a.yml' }; Message = 'link'
    }
    @{
        Name = 'Test-UpgradePath -Profile of a symbolic link to nothing'
        Setup = { param($Dir) $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'profile.yml'), (Join-Path $Dir 'gone.yml')) }
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'profile.yml') }
        ErrorId = 'ProfileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'profile.yml' }
    }
    @{
        Name = 'Test-UpgradePath -Profile of a path with a line break'
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir "pro`nfile.yml") }
        ErrorId = 'ProfileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir "pro`nfile.yml" }; Message = 'pro\\nfile'
    }
    @{
        Name = 'Test-UpgradePath -Profile of a path with a NUL character'
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir "pro`0file.yml") }
        ErrorId = 'ProfileNotFound'; Category = 'InvalidArgument'; Target = { param($Dir) Join-Path $Dir "pro`0file.yml" }; Message = 'pro\\0file'
    }
    @{
        Name = 'Test-UpgradePath -Profile of a 10 MB file answers at once'
        Setup = { param($Dir)
            $text = [Text.StringBuilder]::new("name: big`nservices:`n")
            for ($i = 0; $text.Length -lt 10MB; $i++) { $null = $text.Append("  - name: service-$i`n    role: Worker`n") }
            [IO.File]::WriteAllText((Join-Path $Dir 'profile.yml'), $text.ToString()) }
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'profile.yml') }
        ErrorId = 'ProfileTooLarge'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'profile.yml' }; Message = 'MB'
    }
    if (-not $IsWindows) {
        @{
            Name = 'Test-UpgradePath -Profile /dev/zero (a file that never ends)'
            Run = { Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile /dev/zero }
            ErrorId = 'ProfileTooLarge'; Category = 'InvalidData'; Target = '/dev/zero'
        }
    }

    New-ProfileCase 'nothing in it' '' 'empty'
    New-ProfileCase 'only a comment' "# to do`n" 'empty'
    New-ProfileCase 'binary bytes' ([string]::new([char[]](0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0))) '(?s)^.*profile\.yml'
    New-ProfileCase 'a sentence instead of YAML' "This is my profile.`n" "${at}.*mapping"
    New-ProfileCase 'a list at the top' "- name: mine`n- services: []`n" "${at}.*mapping"
    New-ProfileCase 'services as a mapping' "name: mine`nservices:`n  web: {role: Api}`n" "${at}.*list"
    New-ProfileCase 'services as a word' "name: mine`nservices: web`n" "${at}.*list"
    New-ProfileCase 'a list as the name' "name: [a, b]`nservices:`n  - name: web`n" "${at}.*single value"
    New-ProfileCase 'a mapping as a service name' "name: mine`nservices:`n  - name: {x: 1}`n" "${at}.*single value"
    New-ProfileCase 'a word as a number' ($minimal + "versionPolicy:`n  maxMinorStep: two`n") "${at}.*'two'.*whole number"
    New-ProfileCase 'a number above Int32' ($minimal + "versionPolicy:`n  maxMinorStep: 99999999999`n") "${at}.*whole number"
    New-ProfileCase 'a word as true or false' "name: mine`nservices:`n  - name: web`n    productImage: maybe`n" "${at}.*'maybe'.*true or false"
    New-ProfileCase 'a role that does not exist' "name: mine`nservices:`n  - name: web`n    role: Webserver`n" "${at}.*'Webserver'.*Api, Worker"
    New-ProfileCase 'a number as the role' "name: mine`nservices:`n  - name: web`n    role: 42`n" "${at}.*'42'.*Api, Worker"
    New-ProfileCase 'a key it does not know' ($minimal + "colour: blue`n") "${at}.*'colour'.*name, services"
    New-ProfileCase 'a misspelled key in a service' "name: mine`nservices:`n  - name: web`n    rool: Api`n" "${at}.*'rool'.*role"
    New-ProfileCase 'a key with a control character' ($minimal + "`"col\x01our`": blue`n") "${at}.*col\\x01our"
    New-ProfileCase 'a service name with a control character, twice' "name: mine`nservices:`n  - name: `"w\x01eb`"`n  - name: `"w\x01eb`"`n" "${at}.*w\\x01eb"
    New-ProfileCase 'a key twice' "name: mine`nname: yours`nservices:`n  - name: web`n" "${at}.*name"
    New-ProfileCase 'two YAML documents' ($minimal + "---`n" + $minimal) "${at}.*document"
    New-ProfileCase 'an unclosed flow list' "name: mine`nservices: [{name: web}`n" $at
    New-ProfileCase 'an alias to an anchor that does not exist' "name: *nothing`nservices:`n  - name: web`n" '(?s)^.*profile\.yml.*nothing'
    New-ProfileCase 'nesting 100000 levels deep' ("name: mine`nservices:`n  - name: web`ncatalog: " + ('[' * 100000) + (']' * 100000) + "`n") $at
    New-ProfileCase 'nothing under services' "name: mine`nservices:`n" 'services'
    New-ProfileCase 'an empty entry in services' "name: mine`nservices:`n  -`n" 'services'
    New-ProfileCase 'nothing after a number key' ($minimal + "versionPolicy:`n  maxMinorStep:`n") "${at}.*whole number"
    New-ProfileCase 'an empty catalog entry' ($minimal + "catalog: [1.7.5, ~]`n") 'catalog'
    New-ProfileCase 'no name' "services:`n  - name: web`n" "'name'"
    New-ProfileCase 'no services' "name: mine`n" 'services'
    New-ProfileCase 'schemaVersion 2' "schemaVersion: 2`n$minimal" 'schemaVersion 2'
    New-ProfileCase 'a service declared twice' "name: mine`nservices:`n  - name: web`n  - name: WEB`n" "${at}.*declared twice"
    New-ProfileCase 'a data store on a service it does not declare' ($minimal + "dataStores:`n  - name: db`n    kind: Postgres`n    service: postgres`n    database: app`n") "${at}.*'postgres'"
    New-ProfileCase 'the version in a service it does not declare' ($minimal + "version:`n  service: server`n") "${at}.*'server'"
    New-ProfileCase 'the migration in a service it does not declare' ($minimal + "migration:`n  service: server`n  command: [migrate]`n") "${at}.*'server'"
    New-ProfileCase 'the API on a service it does not declare' ($minimal + "api:`n  service: gateway`n  port: 8000`n") "${at}.*'gateway'"
    New-ProfileCase 'the git sync check in a service it does not declare' ($minimal + "validation:`n  gitSync:`n    request: mutation`n    statusQuery: query`n    statusPath: data.status`n    service: git`n    expectedResultCommand: [git, ls-remote]`n") "${at}.*'git'"
    New-ProfileCase 'the artifact check in a service it does not declare' ($minimal + "validation:`n  artifactGeneration:`n    request: mutation`n    statusQuery: query`n    statusPath: data.status`n    service: artifacts`n") "${at}.*'artifacts'"
    New-ProfileCase 'an artifact check without its request' ($minimal + "validation:`n  artifactGeneration:`n    statusQuery: query`n    statusPath: data.status`n") "${at}.*request"
    New-ProfileCase 'an artifact check started both by GraphQL and by an API path' ($minimal + "validation:`n  artifactGeneration:`n    request: mutation`n    requestPath: /api/generate`n    statusQuery: query`n    statusPath: data.status`n") "${at}.*both 'request' and 'requestPath'"
    New-ProfileCase 'an API path that is not a path' ($minimal + "validation:`n  artifactGeneration:`n    requestPath: api/generate`n    statusQuery: query`n    statusPath: data.status`n") "${at}.*requestPath 'api/generate' must be a path"
    New-ProfileCase 'a request method for a GraphQL request' ($minimal + "validation:`n  gitSync:`n    request: mutation`n    requestMethod: PUT`n    statusQuery: query`n    statusPath: data.status`n") "${at}.*requestMethod applies to 'requestPath' only"
    New-ProfileCase 'a placeholder no listed item fills' ($minimal + "validation:`n  gitSync:`n    listQuery: query`n    listPath: data.items`n    itemFields: { id: node.id }`n    requestPath: /api/sync/{name}`n    statusQuery: query`n    statusPath: data.status`n") "${at}.*placeholder \{name\}, which no item fills \(it fills \{id\}\)"
    New-ProfileCase 'item fields without a list' ($minimal + "validation:`n  gitSync:`n    itemFields: { id: node.id }`n    request: mutation`n    statusQuery: query`n    statusPath: data.status`n") "${at}.*'itemFields' read the items of 'listQuery'"
    New-ProfileCase 'a GraphQL check without its query' ($minimal + "validation:`n  graphQL:`n    - name: branches`n") "${at}.*query"
    New-ProfileCase 'a performance request with neither path nor query' ($minimal + "validation:`n  performance:`n    requests:`n      - name: home`n") "${at}.*path.*query"
    New-ProfileCase 'a log pattern that is not a regular expression' ($minimal + "validation:`n  logErrorPatterns: ['(unclosed']`n") "logErrorPatterns.*\(unclosed"
    New-ProfileCase 'a log ignore pattern that is not a regular expression' ($minimal + "validation:`n  logIgnorePatterns: ['[a-']`n") "logIgnorePatterns"
    New-ProfileCase 'a check timeout of zero' ($minimal + "validation:`n  checkTimeoutSeconds: 0`n") "${at}.*checkTimeoutSeconds"
    New-ProfileCase 'no performance samples' ($minimal + "validation:`n  performance:`n    samples: 0`n") "${at}.*samples"
    New-ProfileCase 'the API on port 70000' ($minimal + "api:`n  service: web`n  port: 70000`n") "${at}.*70000"
    New-ProfileCase 'a database on port 0' ($minimal + "dataStores:`n  - name: db`n    kind: Postgres`n    service: web`n    database: app`n    port: 0`n") "${at}.*port"
    New-ProfileCase 'a Neo4j edition on a Postgres data store' ($minimal + "dataStores:`n  - name: db`n    kind: Postgres`n    service: web`n    database: app`n    edition: Community`n") "${at}.*'edition' applies to Neo4j"
    New-ProfileCase 'a Neo4j edition that does not exist' ($minimal + "dataStores:`n  - name: graph`n    kind: Neo4j`n    service: web`n    edition: Aura`n") "${at}.*'Aura'.*Community, Enterprise"
    New-ProfileCase 'a negative replica count' "name: mine`nservices:`n  - name: web`n    replicas: -1`n" "${at}.*replicas"
    New-ProfileCase 'minutes per gigabyte of .nan' ($minimal + "estimates:`n  minutesPerGigabyte: .nan`n") "${at}.*minutesPerGigabyte"
    New-ProfileCase 'a negative minutes per gigabyte' ($minimal + "estimates:`n  minutesPerGigabyte: -2`n") "${at}.*minutesPerGigabyte"
    New-ProfileCase 'a rehearsal safety factor of .nan' ($minimal + "rehearsal:`n  windowSafetyFactor: .nan`n") "${at}.*windowSafetyFactor"
    New-ProfileCase 'a rehearsal safety factor of .inf' ($minimal + "rehearsal:`n  windowSafetyFactor: .inf`n") "${at}.*windowSafetyFactor"
    New-ProfileCase 'a diagnostics pattern that is not a regular expression' ($minimal + "diagnostics:`n  patterns:`n    - id: p`n      pattern: '(x'`n      guidance: Fix it.`n") "${at}.*regular expression"

    @{
        Name = 'New-DeploymentBackup of a deployment whose profile file is gone'
        Setup = { param($Dir) $null = Write-SandboxCompose (Join-Path $Dir 'docker-compose.yml') }
        Run = { param($Dir) New-TestDeployment -Profile (Join-Path $Dir 'gone.yml') -Location (Join-Path $Dir 'docker-compose.yml') | New-DeploymentBackup -Path (Join-Path $Dir 'backups') -Force }
        ErrorId = 'ProfileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'gone.yml' }
    }
    @{
        Name = 'Test-UpgradeReadiness of a deployment whose profile is a link loop'
        Setup = { param($Dir)
            $null = Write-SandboxCompose (Join-Path $Dir 'docker-compose.yml')
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'p.yml'), (Join-Path $Dir 'p.yml')) }
        Run = { param($Dir) New-TestDeployment -Profile (Join-Path $Dir 'p.yml') -Location (Join-Path $Dir 'docker-compose.yml') | Test-UpgradeReadiness -To 1.7.6 }
        ErrorId = 'ProfileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'p.yml' }
    }
    @{
        Name = 'Invoke-Upgrade of a deployment whose profile is not YAML'
        Setup = { param($Dir)
            $null = Write-SandboxCompose (Join-Path $Dir 'docker-compose.yml')
            [IO.File]::WriteAllText((Join-Path $Dir 'p.yml'), "services: [`n") }
        Run = { param($Dir) Invoke-Upgrade -Deployment (New-TestDeployment -Profile (Join-Path $Dir 'p.yml') -Location (Join-Path $Dir 'docker-compose.yml')) -To 1.7.6 -SkipBackup -Force }
        ErrorId = 'InvalidProfile'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'p.yml' }
    }

    # A key with nothing after it stands for its default, as if it were left out (a section whose lines are commented out).
    @{
        Name = 'Test-UpgradePath -Profile with nothing under version and an estimate works'
        Expect = 'Result'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'profile.yml'), $minimal + "version:`nestimates:`n  patch:`nvalidation:`n#  graphQL: []`n") }.GetNewClosure()
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'profile.yml') }
        Check = { param($Output) $Output.IsSupported | Should -BeTrue; $Output.Steps[0].EstimatedMinutes.Max | Should -Be 10 -Because "the default patch estimate is [5, 10]" }
    }

    # Good profiles in odd places work.
    @{
        Name = 'Test-UpgradePath -Profile in a path with spaces and Unicode works'
        Expect = 'Result'
        Setup = { param($Dir) $folder = New-Item -ItemType Directory (Join-Path $Dir 'mes profils ünï-部署'); Copy-Item -LiteralPath $sandboxProfile (Join-Path $folder 'profil ß.yml') }.GetNewClosure()
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'mes profils ünï-部署/profil ß.yml') }
        Check = { param($Output) $Output.IsSupported | Should -BeTrue; @($Output.Steps).Count | Should -Be 1 }
    }
    @{
        Name = 'Test-UpgradePath -Profile relative to the current folder, without an extension, works'
        Expect = 'Result'
        Setup = { param($Dir) Copy-Item -LiteralPath $sandboxProfile (Join-Path $Dir 'sandbox-profile') }.GetNewClosure()
        Run = { Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile sandbox-profile }
        Check = { param($Output) $Output.IsSupported | Should -BeTrue }
    }
    @{
        Name = 'Test-UpgradePath -Profile with CRLF lines and a byte order mark works'
        Expect = 'Result'
        Setup = { param($Dir)
            $text = (Get-Content -Raw -LiteralPath $sandboxProfile) -replace "`r?`n", "`r`n"
            [IO.File]::WriteAllText((Join-Path $Dir 'profile.yml'), $text, [Text.UTF8Encoding]::new($true)) }.GetNewClosure()
        Run = { param($Dir) Test-UpgradePath -From 1.7.5 -To 1.7.6 -Profile (Join-Path $Dir 'profile.yml') }
        Check = { param($Output) $Output.IsSupported | Should -BeTrue }
    }
    @{
        Name = 'Get-UpgradeDeployment -Profile in a path with spaces and Unicode gets as far as the engine'
        Setup = { param($Dir)
            $null = Write-SandboxCompose (Join-Path $Dir 'docker-compose.yml')
            $folder = New-Item -ItemType Directory (Join-Path $Dir 'mes profils ünï-部署'); Copy-Item -LiteralPath "$env:UPGRADEOPS_ROOT/tests/Sandbox/profile.yml" (Join-Path $folder 'profil ß.yml') }
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') -Profile (Join-Path $Dir 'mes profils ünï-部署/profil ß.yml') }
        ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = { $env:DOCKER_HOST }
    }
)
