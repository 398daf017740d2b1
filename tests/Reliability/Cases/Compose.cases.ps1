# Compose files as users get them wrong: missing, malformed YAML of every shape, no services, the wrong services, odd
# paths and file-system oddities. Get-UpgradeDeployment -ComposeFile reads the file (and the .env beside it) before it
# contacts the Docker Engine, so each of these is answered without one; a good file in an odd path must get as far as
# the engine (DockerEngineUnreachable here), not stop on its path.
$sandboxProfile = Join-Path $PSScriptRoot '../../Sandbox/profile.yml' | Resolve-Path | ForEach-Object Path
# The sandbox profile's services, so that only the compose file's own faults are tried.
$sandboxCompose = @'
services:
  server-a: {image: "127.0.0.1:5000/sandbox:${VERSION:-1.7.5}", network_mode: host}
  server-b: {image: "127.0.0.1:5000/sandbox:${VERSION:-1.7.5}", network_mode: host}
  worker: {image: "127.0.0.1:5000/sandbox:${VERSION:-1.7.5}", network_mode: host}
  database: {image: postgres:15, network_mode: host}
  cache: {image: redis:7, network_mode: host}
  lb: {image: "127.0.0.1:5000/sandbox-lb:1", network_mode: host}
'@ + "`n"

function New-ComposeCase([string] $Name, [string] $Text, [string] $Message) {
    @{
        Name = "Get-UpgradeDeployment on a compose file with $Name"
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), $Text) }.GetNewClosure()
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') }
        ErrorId = 'ComposeFileInvalid'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'docker-compose.yml' }
        Message = $Message
    }
}

# Where YamlDotNet (or the shape check) knows the position, the message gives file:line:column.
$at = '[/\\]docker-compose\.yml:\d+:\d+: '
@(
    @{
        Name = 'Get-UpgradeDeployment on a compose file that does not exist'
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') }
        ErrorId = 'ComposeFileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) Join-Path $Dir 'docker-compose.yml' }
    }
    @{
        Name = 'Get-UpgradeDeployment on a folder instead of a compose file'
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile $Dir }
        ErrorId = 'ComposeFileNotFound'; Category = 'ObjectNotFound'; Target = { param($Dir) $Dir }; Message = 'folder'
    }
    New-ComposeCase 'a mapping as a service name' "services:`n  ? {x: 1}`n  : {image: y}`n" "${at}a key \(such as a service name\)"
    New-ComposeCase 'a list as a service name' "services:`n  [a, b]: {image: y}`n" "${at}a key \(such as a service name\)"
    New-ComposeCase 'a mapping as a top-level key' "{a: 1}: 2`nservices:`n  a: {image: y}`n" $at
    New-ComposeCase 'an unclosed flow list' "services: {a: [}`n" $at
    New-ComposeCase 'an unclosed flow map' "services: {a: {image: x}`n" $at
    New-ComposeCase 'a scalar where the services mapping belongs' "services: web`n" $at
    New-ComposeCase 'a list where the services mapping belongs' "services:`n  - web`n" $at
    New-ComposeCase 'a scalar where a service mapping belongs' "services:`n  web: nginx`n" $at
    New-ComposeCase 'an alias to an anchor that does not exist' "services:`n  web: *base`n" "${at}.*base"
    New-ComposeCase 'tab-indented lines' "services:`n`tweb:`n`t`timage: nginx`n" "${at}.*tab"
    New-ComposeCase 'a service name with a control character' "services:`n  `"web\x01`": {image: a}`n" "${at}.*web\\x01"
    New-ComposeCase 'a key twice' "services:`n  web: {image: a}`n  web: {image: b}`n" "${at}.*web"
    New-ComposeCase 'no services key' "version: '3.8'`nvolumes:`n  data: {}`n" 'services'
    New-ComposeCase 'nothing in it' "" 'empty'
    New-ComposeCase 'only a comment' "# nothing yet`n" 'empty'
    New-ComposeCase 'a list at the top' "- services`n" $at
    New-ComposeCase 'a word as the replica count' "services:`n  web:`n    image: nginx`n    deploy: {replicas: two}`n" "${at}.*replicas"
    New-ComposeCase 'a replica count above Int32' "services:`n  web:`n    image: nginx`n    scale: 99999999999`n" "${at}.*scale"
    New-ComposeCase 'a merge key of a scalar' "x: &s hello`nservices:`n  web:`n    <<: *s`n    image: y`n" "${at}.*<<"
    New-ComposeCase 'a merge key that merges its own mapping' "services:`n  web: &w`n    <<: *w`n    image: y`n" "${at}.*<<"
    New-ComposeCase 'an unclosed ${ in the image' "services:`n  web:`n    image: `"app:`${VERSION`"`n" $at
    New-ComposeCase 'nesting 100000 levels deep' ("services: " + ('[' * 100000) + (']' * 100000) + "`n") 'deep'
    New-ComposeCase 'a quoted string with an unknown escape' "services:`n  web: {image: `"a\qb`"}`n" $at
    @{
        # Compose merges the documents of one file as layers; UpgradeOps reads one, so it refuses rather than miss a layer.
        Name = 'Get-UpgradeDeployment on a compose file of two YAML documents'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), "services:`n  web: {image: a}`n---`nservices:`n  web: {image: b}`n") }
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') }
        ErrorId = 'ComposeFileNotSupported'; Category = 'NotImplemented'; Target = { param($Dir) Join-Path $Dir 'docker-compose.yml' }
        Message = 'docker compose config'
    }
    @{
        Name = 'Get-UpgradeDeployment on a compose file with no services at all'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), "services: {}`n") }
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') }
        ErrorId = 'ProfileServiceMissing'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'docker-compose.yml' }
    }
    @{
        Name = "Get-UpgradeDeployment on a compose file with only services the profile does not know"
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), "services:`n  web: {image: nginx}`n  db: {image: postgres}`n") }
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') }
        ErrorId = 'ProfileServiceMissing'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'docker-compose.yml' }
        Message = 'infrahub-server'
    }
    @{
        Name = 'Get-UpgradeDeployment on a good compose file in a path with spaces gets as far as the engine'
        Setup = { param($Dir) $folder = New-Item -ItemType Directory (Join-Path $Dir 'my project files'); [IO.File]::WriteAllText((Join-Path $folder 'docker-compose.yml'), $sandboxCompose) }.GetNewClosure()
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'my project files/docker-compose.yml') -Profile $sandboxProfile }.GetNewClosure()
        ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = { $env:DOCKER_HOST }
    }
    @{
        Name = 'Get-UpgradeDeployment on a good compose file in a Unicode path gets as far as the engine'
        Setup = { param($Dir) $folder = New-Item -ItemType Directory (Join-Path $Dir 'déploiement-部署-ß'); [IO.File]::WriteAllText((Join-Path $folder 'compose ünï.yaml'), $sandboxCompose) }.GetNewClosure()
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'déploiement-部署-ß/compose ünï.yaml') -Profile $sandboxProfile }.GetNewClosure()
        ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = { $env:DOCKER_HOST }
    }
    @{
        Name = 'Get-UpgradeDeployment on a good compose file given relative to the current folder gets as far as the engine'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), $sandboxCompose) }.GetNewClosure()
        Run = { Get-UpgradeDeployment -ComposeFile ./docker-compose.yml -Profile $sandboxProfile }.GetNewClosure()
        ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = { $env:DOCKER_HOST }
    }
    @{
        Name = 'Get-UpgradeDeployment on a compose path that is a symbolic link loop'
        Setup = { param($Dir)
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'a.yml'), (Join-Path $Dir 'b.yml'))
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir 'b.yml'), (Join-Path $Dir 'a.yml')) }
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'a.yml') }
        ErrorId = 'ComposeFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir 'a.yml' }; Message = 'link'
    }
    @{
        Name = 'Get-UpgradeDeployment on a compose file whose .env is a folder'
        Setup = { param($Dir) [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), $sandboxCompose); $null = New-Item -ItemType Directory (Join-Path $Dir '.env') }.GetNewClosure()
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') -Profile $sandboxProfile }.GetNewClosure()
        ErrorId = 'EnvFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir '.env' }; Message = 'remove or rename the folder'
    }
    @{
        Name = 'Get-UpgradeDeployment on a compose file whose .env is a symbolic link loop'
        Setup = { param($Dir)
            [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), $sandboxCompose)
            $null = [IO.File]::CreateSymbolicLink((Join-Path $Dir '.env'), (Join-Path $Dir '.env')) }.GetNewClosure()
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') -Profile $sandboxProfile }.GetNewClosure()
        ErrorId = 'EnvFileUnreadable'; Category = 'InvalidData'; Target = { param($Dir) Join-Path $Dir '.env' }; Message = 'link'
    }
    @{
        Name = 'Get-UpgradeDeployment on a compose file whose .env has CRLF lines, a BOM and a key twice gets as far as the engine'
        Setup = { param($Dir)
            [IO.File]::WriteAllText((Join-Path $Dir 'docker-compose.yml'), $sandboxCompose)
            [IO.File]::WriteAllText((Join-Path $Dir '.env'), "VERSION=1.7.5`r`nVERSION=1.8.0`r`n", [Text.UTF8Encoding]::new($true)) }.GetNewClosure()
        Run = { param($Dir) Get-UpgradeDeployment -ComposeFile (Join-Path $Dir 'docker-compose.yml') -Profile $sandboxProfile }.GetNewClosure()
        ErrorId = 'DockerEngineUnreachable'; Category = 'ConnectionError'; Target = { $env:DOCKER_HOST }
    }
)
