#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Throughput of the backup encryption: OpenPGP (what New-DeploymentBackup -EncryptionKey writes) against the first
    format (chunked AES-256-GCM, which UpgradeOps still reads).
.DESCRIPTION
    Builds and runs bench/Encryption (a small console program over the engine): encrypts -SizeMB megabytes of random
    data through BackupEncryption.Encrypt and decrypts them through BackupEncryption.Decrypt, -Runs times per format, the
    ciphertext kept in memory so no disk is measured; prints the median MB/s each way, the key derivation's time per file
    and the bytes the format adds. No Docker Engine needed.
.EXAMPLE
    dotnet pwsh ./bench/encryption.ps1 -SizeMB 256 -Runs 3
#>
param(
    [ValidateRange(1, 4096)][int] $SizeMB = 256,
    [ValidateRange(1, 20)][int] $Runs = 3
)
$ErrorActionPreference = 'Stop'
$project = Join-Path $PSScriptRoot 'Encryption'
dotnet run -c Release --project $project -- $SizeMB $Runs
if ($LASTEXITCODE -ne 0) { throw "bench/Encryption failed ($LASTEXITCODE)" }
