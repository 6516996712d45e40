# .SYNOPSIS
# Collects, read-only, the Exchange configuration relay-audit needs, as CliXML in one folder.
#
# .DESCRIPTION
# Run in the Exchange Management Shell (Exchange 2007, 2010, 2013, 2016, 2019 or Subscription
# Edition; local EMS or a remote EMS session). The script only runs Get-* cmdlets: it changes
# nothing in Exchange or Active Directory. It writes into ONE output folder:
#
#   exchange-servers.xml     Get-ExchangeServer | Export-Clixml
#   accepted-domains.xml     Get-AcceptedDomain | Export-Clixml
#   transport-config.xml     Get-TransportConfig | Export-Clixml
#   receive-connectors.xml   Get-ReceiveConnector -Server <S> for every selected server
#   permissions\<server>_<connector name>.xml
#                            Get-ADPermission -Identity <connector> | Export-Clixml: the full ACL
#                            of each receive connector, inherited entries included. Characters
#                            not allowed or awkward in a file name (\ / : * ? " < > | [ ] and
#                            control characters) become _; a second connector that maps to the
#                            same name gets _2, _3 ... before .xml.
#   collect-log.txt          plain text (UTF-8): script version, date, Exchange version of every
#                            server, counts, every error caught and the exact commands run.
#
# Export-Clixml keeps its default encoding (UTF-16 in Windows PowerShell); relay-audit reads it
# as it is. Errors are caught per server and per connector, logged, and never stop the run.
# Edge Transport servers are not collected (their connectors live in AD LDS on the Edge server
# itself, on every version from 2007 to SE); the log names them. Exchange 2003 servers in the
# same organisation have no receive connectors; they are listed and skipped too.
#
# .PARAMETER OutputPath
# Folder to write to (created when missing). Default: %TEMP%\relay-audit-<organisation>-<yyyyMMdd-HHmm>
# (not the current folder, which is C:\Windows\system32 in the Exchange Management Shell). The
# path is taken literally: [ and ] are characters, not wildcards (PowerShell 3.0 and later; on
# PowerShell 1.0 and 2.0, whose Export-Clixml has no -LiteralPath, a path with [ ] * ? or ` is
# refused). The full path is printed at the start and at the end.
#
# .PARAMETER Server
# Names (or FQDNs) of the servers whose receive connectors are collected. Default: every server
# with a transport role (Hub Transport, Mailbox 2013+, Frontend Transport), Edge excluded.
#
# .PARAMETER Zip
# At the end, also write <OutputPath>.zip with Compress-Archive when the cmdlet exists
# (PowerShell 5.0 and later); otherwise the log says so and the folder is left as it is.
# relay-audit scan reads the .zip as it is.
#
# .EXAMPLE
# .\Collect-RelayAudit.ps1 -OutputPath C:\temp\ra
#
# Collects every transport server into C:\temp\ra; then run: relay-audit scan C:\temp\ra
#
# .EXAMPLE
# .\Collect-RelayAudit.ps1 -Server EX01,EX02 -Zip
#
# Collects two servers into %TEMP%\relay-audit-<org>-<date> and writes the same name with .zip.
#
# .NOTES
# Exit codes: 0 = collected without error; 1 = could not start (not an Exchange Management
# Shell, or the output folder cannot be created or, on PowerShell 1.0/2.0, has [ ] * ? or ` in
# its path): nothing was collected; 3 = collected, but errors were logged (see collect-log.txt:
# a server, a connector's permissions, a file or the .zip is missing).
# Every file is written as soon as its objects are read: exchange-servers.xml, accepted-domains.xml
# and transport-config.xml first, then server by server receive-connectors.xml (rewritten with
# the connectors of every server read so far) and the permission files of that server's
# connectors; collect-log.txt line by line. A run that stops half-way leaves what it had read.
# Read-only: only Get-ExchangeServer, Get-OrganizationConfig, Get-AcceptedDomain,
# Get-TransportConfig, Get-ReceiveConnector and Get-ADPermission are run against Exchange; the
# only files written are in the output folder (and the .zip beside it with -Zip).
# Rights: membership of View-Only Organization Management (Exchange 2010 and later; its
# View-Only Configuration role holds every cmdlet above) or Exchange View-Only Administrator
# (Exchange 2007) is enough.
# Works on Windows PowerShell 1.0 and later: no try/catch (errors are trapped), no splatting,
# no [ordered], no PowerShell classes, no $PSScriptRoot. Paths are passed with -LiteralPath
# (Export-Clixml's only from PowerShell 3.0 on; -Path, on a path checked free of wildcards, before).
# Send the whole output folder (or the .zip) to whoever audits the configuration. It contains
# no passwords and no mail, but it does contain server names, IP ranges, accounts and group
# names: hand it over as confidential. Audit it with: relay-audit scan <folder>

param(
    [string]$OutputPath,
    [string[]]$Server,
    [switch]$Zip
)

$ScriptVersion = '1.1.0'
$script:ErrorCount = 0
$script:StepFailed = $false
$script:LogFile = $null
$script:PendingLog = New-Object System.Collections.ArrayList

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
function Write-LogLine([string]$Text) {
    # Lines logged before the output folder exists are kept and written once it does.
    if ($script:LogFile) {
        Add-Content -LiteralPath $script:LogFile -Value $Text -Encoding UTF8
    } else {
        [void]$script:PendingLog.Add($Text)
    }
}

function Write-Log([string]$Text) {
    Write-LogLine ((Get-Date -Format 'yyyy-MM-dd HH:mm:ss') + '  ' + $Text)
}

function Format-Quoted([string]$Text) {
    # A PowerShell single-quoted literal, for logging commands exactly as they were run.
    return "'" + $Text.Replace("'", "''") + "'"
}

function Get-ErrorText($ErrorRecord) {
    $text = [string]$ErrorRecord.Exception.Message
    # ActionPreferenceStopException (-ErrorAction Stop) carries the original error record.
    $inner = $null
    if ($ErrorRecord.Exception -is [System.Management.Automation.RuntimeException]) {
        $inner = $ErrorRecord.Exception.ErrorRecord
    }
    if ($inner -and $inner.Exception -and [string]$inner.Exception.Message) {
        $text = [string]$inner.Exception.Message
    }
    return ($text -replace '[\r\n]+', ' ').Trim()
}

function Invoke-Collect([string]$CollectCommand, [scriptblock]$CollectBlock, [switch]$Retry) {
    # Runs one step; a terminating error (every error, with -ErrorAction Stop) is trapped,
    # logged and counted, and the script goes on. $script:StepFailed tells the caller.
    # -Retry: the caller tries another way next, so the error is logged as RETRY, not counted.
    # A trap, not try/catch, so that the script also parses in PowerShell 1.0 (Exchange 2007).
    $script:StepFailed = $false
    $ErrorActionPreference = 'Stop'
    trap {
        $script:StepFailed = $true
        $msg = Get-ErrorText $_
        if ($Retry) {
            Write-Log ('RETRY ' + $CollectCommand + ' : ' + $msg)
        } else {
            $script:ErrorCount++
            Write-Log ('ERROR ' + $CollectCommand + ' : ' + $msg)
            Write-Warning ($CollectCommand + ' : ' + $msg)
        }
        continue
    }
    Write-Log ('RUN   ' + $CollectCommand)
    & $CollectBlock
}

function Save-Clixml([string]$File, $Objects) {
    # Export-Clixml -LiteralPath (PowerShell 3.0 and later): [ ] in the path are characters.
    # Before 3.0 it has -Path only; the output path was checked free of wildcard characters.
    if ($script:LiteralClixml) {
        $Objects | Export-Clixml -LiteralPath $File
    } else {
        $Objects | Export-Clixml -Path $File
    }
}

function Get-SafeFileName([string]$Text) {
    # \ / : * ? " < > | are not allowed in Windows file names; [ ] are wildcards for -Path.
    $safe = $Text -replace '[\\/:*?"<>|\[\]\x00-\x1f]', '_'
    if (-not $safe) { $safe = '_' }
    return $safe
}

function Get-ExchangeProduct([string]$Version) {
    # 'Version 15.2 (Build 1118.7)' -> 'Exchange 2019'
    if ($Version -match 'Version (\d+)\.(\d+) \(Build (\d+)\.') {
        $major = [int]$matches[1]; $minor = [int]$matches[2]; $build = [int]$matches[3]
        if ($major -eq 8) { return 'Exchange 2007' }
        if ($major -eq 14) { return 'Exchange 2010' }
        if ($major -eq 15 -and $minor -eq 0) { return 'Exchange 2013' }
        if ($major -eq 15 -and $minor -eq 1) { return 'Exchange 2016' }
        if ($major -eq 15 -and $minor -eq 2 -and $build -ge 2562) { return 'Exchange Server SE' }
        if ($major -eq 15 -and $minor -eq 2) { return 'Exchange 2019' }
        if ($major -eq 6 -and $minor -eq 5) { return 'Exchange 2003' }
        if ($major -eq 6 -and $minor -eq 0) { return 'Exchange 2000' }
    }
    return 'unknown version'
}

# ---------------------------------------------------------------------------------------------
# Is this an Exchange Management Shell?
# ---------------------------------------------------------------------------------------------
$rcCommand = Get-Command Get-ReceiveConnector -ErrorAction SilentlyContinue
if (-not $rcCommand) {
    Write-Host 'Get-ReceiveConnector is not available: run this script in the Exchange Management Shell.' -ForegroundColor Red
    exit 1
}
if ([string]$rcCommand.CommandType -eq 'Cmdlet') {
    $sessionKind = 'local Exchange snap-in (objects are live Exchange types)'
} else {
    $sessionKind = 'remote EMS session (Exchange cmdlets are proxies; objects come back serialized)'
}

$started = Get-Date
$psMajor = 1
if (Test-Path variable:PSVersionTable) {
    $psVersion = [string]$PSVersionTable.PSVersion
    $psMajor = [int]$PSVersionTable.PSVersion.Major
} else {
    $psVersion = [string]$Host.Version + ' (PowerShell 1.0 host)'
}
# Export-Clixml has -LiteralPath from PowerShell 3.0 on; the log shows the parameter used.
$script:LiteralClixml = ($psMajor -ge 3)
if ($script:LiteralClixml) { $clixmlParam = '-LiteralPath' } else { $clixmlParam = '-Path' }

Write-LogLine 'relay-audit collection log'
Write-LogLine ('script       : Collect-RelayAudit.ps1 ' + $ScriptVersion)
$startedUtc = $started.ToUniversalTime().ToString('yyyy-MM-dd HH:mm:ss')
Write-LogLine ('started      : ' + $started.ToString('yyyy-MM-dd HH:mm:ss') + ' (UTC ' + $startedUtc + ')')
Write-LogLine ('computer     : ' + $env:COMPUTERNAME)
Write-LogLine ('user         : ' + $env:USERDOMAIN + '\' + $env:USERNAME)
Write-LogLine ('powershell   : ' + $psVersion)
Write-LogLine ('session      : ' + $sessionKind)
Write-LogLine 'mode         : read-only (Get-* cmdlets only; nothing in Exchange is changed)'

# ---------------------------------------------------------------------------------------------
# Organisation name and output folder
# ---------------------------------------------------------------------------------------------
$orgName = ''
$org = @(Invoke-Collect 'Get-OrganizationConfig' { Get-OrganizationConfig -ErrorAction Stop })
if (-not $script:StepFailed -and $org.Count -gt 0) { $orgName = [string]$org[0].Name }
if (-not $orgName) { $orgName = 'exchange' } else { Write-Log ('OK    organization ' + $orgName) }
Write-LogLine ('organization : ' + $orgName)

if (-not $OutputPath) {
    # Under %TEMP%: the current folder of the Exchange Management Shell is C:\Windows\system32.
    $tempRoot = $env:TEMP
    if (-not $tempRoot) { $tempRoot = [System.IO.Path]::GetTempPath() }
    $orgPart = Get-SafeFileName ($orgName -replace '\s+', '-')
    $OutputPath = Join-Path $tempRoot ('relay-audit-' + $orgPart + '-' + $started.ToString('yyyyMMdd-HHmm'))
}
if (-not $script:LiteralClixml -and $OutputPath -match '[\[\]*?`]') {
    Write-Host ('PowerShell ' + $psVersion + ' cannot write Export-Clixml files under ' + $OutputPath + ' ([ ] * ? and ` are wildcard characters for its -Path): choose another -OutputPath. Nothing was collected.') -ForegroundColor Red
    exit 1
}
# The full path, taken literally (no wildcards), relative to the current folder; then the folder
# and its permissions\ subfolder are created by .NET, which knows no wildcards either.
$outputFull = @(Invoke-Collect ('[System.IO.Directory]::CreateDirectory(' + (Format-Quoted (Join-Path $OutputPath 'permissions')) + ')') {
    $full = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutputPath)
    [void][System.IO.Directory]::CreateDirectory((Join-Path $full 'permissions'))
    $full
})
if ($script:StepFailed -or $outputFull.Count -ne 1 -or -not (Test-Path -LiteralPath (Join-Path ([string]$outputFull[0]) 'permissions'))) {
    Write-Host ('Cannot create the output folder ' + (Join-Path $OutputPath 'permissions') + ': nothing was collected.') -ForegroundColor Red
    exit 1
}
$OutputPath = [string]$outputFull[0]
$permPath = Join-Path $OutputPath 'permissions'
$earlier = @(Get-ChildItem -LiteralPath $permPath)
if ($earlier.Count -gt 0) {
    # Files are overwritten, but those of connectors deleted since would stay and be audited.
    Write-Warning ($permPath + ' already holds ' + $earlier.Count + ' files: use an empty folder for a clean collection.')
    Write-LogLine ('warning      : ' + $permPath + ' already held ' + $earlier.Count + ' files before this run')
}
Write-LogLine ('output       : ' + $OutputPath)
$paramText = '-OutputPath ' + (Format-Quoted $OutputPath)
if ($Server) { $paramText += ' -Server ' + [string]::Join(',', $Server) }
if ($Zip) { $paramText += ' -Zip' }
Write-LogLine ('parameters   : ' + $paramText)
Write-LogLine ''

# From here on the log is a file; write what was kept so far.
$script:LogFile = Join-Path $OutputPath 'collect-log.txt'
if (Test-Path -LiteralPath $script:LogFile) { Remove-Item -LiteralPath $script:LogFile }
foreach ($line in $script:PendingLog) {
    Add-Content -LiteralPath $script:LogFile -Value $line -Encoding UTF8
}
$script:PendingLog.Clear()

Write-Host ('relay-audit collection ' + $ScriptVersion + ' -> ' + $OutputPath)

# ---------------------------------------------------------------------------------------------
# Organisation-wide objects
# ---------------------------------------------------------------------------------------------
$activity = 'relay-audit: collecting Exchange configuration'
Write-Progress -Id 1 -Activity $activity -Status 'Exchange servers, accepted domains, transport config' -PercentComplete 0

# Each block emits what it read before exporting it, so a failed export still leaves the
# objects to the rest of the script.
$file = Join-Path $OutputPath 'exchange-servers.xml'
$allServers = @(Invoke-Collect ('Get-ExchangeServer | Export-Clixml ' + $clixmlParam + ' ' + (Format-Quoted $file)) {
    $got = @(Get-ExchangeServer -ErrorAction Stop)
    $got
    Save-Clixml $file $got
})
if (-not $script:StepFailed) { Write-Log ('OK    ' + $allServers.Count + ' Exchange servers') }

$file = Join-Path $OutputPath 'accepted-domains.xml'
$domains = @(Invoke-Collect ('Get-AcceptedDomain | Export-Clixml ' + $clixmlParam + ' ' + (Format-Quoted $file)) {
    $got = @(Get-AcceptedDomain -ErrorAction Stop)
    $got
    Save-Clixml $file $got
})
if (-not $script:StepFailed) { Write-Log ('OK    ' + $domains.Count + ' accepted domains') }

$file = Join-Path $OutputPath 'transport-config.xml'
$transportConfig = @(Invoke-Collect ('Get-TransportConfig | Export-Clixml ' + $clixmlParam + ' ' + (Format-Quoted $file)) {
    $got = @(Get-TransportConfig -ErrorAction Stop)
    $got
    Save-Clixml $file $got
})
if (-not $script:StepFailed) { Write-Log ('OK    ' + $transportConfig.Count + ' transport config object') }

# ---------------------------------------------------------------------------------------------
# Which servers
# ---------------------------------------------------------------------------------------------
Write-LogLine ''
Write-LogLine 'servers:'
$targets = New-Object System.Collections.ArrayList
foreach ($srv in @($allServers | Sort-Object Name)) {
    $name = [string]$srv.Name
    $version = [string]$srv.AdminDisplayVersion
    $product = Get-ExchangeProduct $version
    $roles = [string]$srv.ServerRole
    $isTransport = ($srv.IsHubTransportServer -eq $true) -or ($srv.IsFrontendTransportServer -eq $true)
    $wanted = $false
    if ($Server) {
        foreach ($s in $Server) {
            if ($s -eq $name -or $s -eq [string]$srv.Fqdn) { $wanted = $true }
        }
    } else {
        $wanted = $isTransport
    }
    if ($srv.IsEdgeServer -eq $true) {
        $why = 'skipped: Edge Transport; its receive connectors are in AD LDS on the Edge server'
        $why += ' (run Get-ReceiveConnector and Get-ReceiveConnector | Get-ADPermission there and add the files)'
    } elseif ($srv.IsExchange2007OrLater -eq $false) {
        $why = 'skipped: before Exchange 2007 (SMTP virtual server, not receive connectors)'
    } elseif ($wanted) {
        $why = 'selected'
        if (-not $isTransport) { $why = 'selected (-Server) although no transport role is reported' }
        [void]$targets.Add($srv)
    } elseif ($Server) {
        $why = 'not selected (-Server)'
    } else {
        $why = 'skipped: no transport role'
    }
    Write-LogLine ('  ' + $name + '  ' + $version + '  = ' + $product + '  roles: ' + $roles + '  -> ' + $why)
}
if ($Server) {
    foreach ($s in $Server) {
        $found = $false
        foreach ($srv in $allServers) {
            if ($s -eq [string]$srv.Name -or $s -eq [string]$srv.Fqdn) { $found = $true }
        }
        if (-not $found) {
            $script:ErrorCount++
            Write-Log ('ERROR -Server ' + $s + ' : not found by Get-ExchangeServer')
            Write-Warning ('-Server ' + $s + ': not found by Get-ExchangeServer')
        }
    }
}
Write-LogLine ''

# ---------------------------------------------------------------------------------------------
# Receive connectors and their permissions, server by server
# ---------------------------------------------------------------------------------------------
$allConnectors = New-Object System.Collections.ArrayList
$rcFile = Join-Path $OutputPath 'receive-connectors.xml'
$rcWritten = $false
$usedNames = @{}
$permFiles = 0
$aceCount = 0
$n = $targets.Count
$i = 0
foreach ($srv in $targets) {
    $i++
    $srvName = [string]$srv.Name
    $pct = [int](100 * ($i - 1) / $n)
    Write-Progress -Id 1 -Activity $activity -Status ('[{0}/{1}] {2}: receive connectors' -f $i, $n, $srvName) -PercentComplete $pct

    $rcs = @(Invoke-Collect ('Get-ReceiveConnector -Server ' + (Format-Quoted $srvName)) {
        Get-ReceiveConnector -Server $srvName -ErrorAction Stop
    })
    if ($script:StepFailed) {
        Write-Host ('[{0}/{1}] {2}: receive connectors could not be read (see collect-log.txt)' -f $i, $n, $srvName) -ForegroundColor Yellow
        continue
    }
    Write-Log ('OK    ' + $rcs.Count + ' receive connectors on ' + $srvName)
    Write-Host ('[{0}/{1}] {2}: {3} receive connectors' -f $i, $n, $srvName, $rcs.Count)

    # receive-connectors.xml holds the connectors of every server read so far (in that order):
    # written now, before the permissions, and rewritten after each further server.
    foreach ($rc in $rcs) { [void]$allConnectors.Add($rc) }
    $cmdText = '$connectors | Export-Clixml ' + $clixmlParam + ' ' + (Format-Quoted $rcFile)
    $cmdText += '  # the ' + $allConnectors.Count + ' connectors returned by the Get-ReceiveConnector -Server commands so far'
    [void](Invoke-Collect $cmdText { Save-Clixml $rcFile $allConnectors })
    if (-not $script:StepFailed) {
        $rcWritten = $true
        Write-Log ('OK    ' + $allConnectors.Count + ' receive connectors written')
    }

    $j = 0
    foreach ($rc in $rcs) {
        $j++
        $rcName = [string]$rc.Name
        $rcIdentity = [string]$rc.Identity
        $pct = [int](100 * ($j - 1) / $rcs.Count)
        Write-Progress -Id 2 -ParentId 1 -Activity ('{0}: Get-ADPermission' -f $srvName) -Status $rcName -PercentComplete $pct

        $base = (Get-SafeFileName $srvName) + '_' + (Get-SafeFileName $rcName)
        $leaf = $base + '.xml'
        $k = 1
        while ($usedNames.ContainsKey($leaf.ToLower())) {
            $k++
            $leaf = $base + '_' + $k + '.xml'
        }
        $usedNames[$leaf.ToLower()] = $true
        $file = Join-Path $permPath $leaf

        # The full ACL of the connector, inherited entries included.
        $rcId = $rc.Identity
        $rcDn = [string]$rc.DistinguishedName
        $exportText = ' | Export-Clixml ' + $clixmlParam + ' ' + (Format-Quoted $file)
        $cmdText = 'Get-ADPermission -Identity ' + (Format-Quoted $rcIdentity) + $exportText
        $aces = @(Invoke-Collect $cmdText -Retry:([bool]$rcDn) {
            $got = @(Get-ADPermission -Identity $rcId -ErrorAction Stop)
            $got
            Save-Clixml $file $got
        })
        if ($script:StepFailed -and $rcDn) {
            # A session that cannot bind the connector's identity object still takes its DN.
            $cmdText = 'Get-ADPermission -Identity ' + (Format-Quoted $rcDn) + $exportText
            $aces = @(Invoke-Collect $cmdText {
                $got = @(Get-ADPermission -Identity $rcDn -ErrorAction Stop)
                $got
                Save-Clixml $file $got
            })
        }
        if (-not $script:StepFailed) {
            $permFiles++
            $aceCount += $aces.Count
            Write-Log ('OK    ' + $aces.Count + ' permission entries of ' + $rcIdentity)
        }
    }
    Write-Progress -Id 2 -ParentId 1 -Activity ('{0}: Get-ADPermission' -f $srvName) -Status 'done' -Completed
}

# No server read: receive-connectors.xml is still written (empty), as before.
if (-not $rcWritten -and $allConnectors.Count -eq 0) {
    $cmdText = '$connectors | Export-Clixml ' + $clixmlParam + ' ' + (Format-Quoted $rcFile) + '  # no receive connectors were read'
    [void](Invoke-Collect $cmdText { Save-Clixml $rcFile $allConnectors })
}
Write-Progress -Id 1 -Activity $activity -Status 'done' -Completed

# ---------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------
$ended = Get-Date
Write-LogLine ''
Write-LogLine 'summary:'
Write-LogLine ('  servers in organisation : ' + $allServers.Count)
Write-LogLine ('  servers collected       : ' + $targets.Count)
Write-LogLine ('  accepted domains        : ' + $domains.Count)
Write-LogLine ('  receive connectors      : ' + $allConnectors.Count)
Write-LogLine ('  permission files        : ' + $permFiles + ' (' + $aceCount + ' entries)')
Write-LogLine ('  errors                  : ' + $script:ErrorCount)
$seconds = [int]($ended - $started).TotalSeconds
Write-LogLine ('  finished                : ' + $ended.ToString('yyyy-MM-dd HH:mm:ss') + ' (' + $seconds + ' s)')
Write-LogLine '  not collected           : Edge Transport servers, send connectors, firewall/NAT rules'
Write-LogLine ('  next step               : relay-audit scan ' + (Format-Quoted $OutputPath))

if ($Zip) {
    $zipFile = $OutputPath.TrimEnd('\') + '.zip'
    if (Get-Command Compress-Archive -ErrorAction SilentlyContinue) {
        Write-LogLine ('  zip                     : ' + $zipFile)
        if ($zipFile -notmatch '[\[\]]') {
            $cmdText = 'Compress-Archive -LiteralPath ' + (Format-Quoted $OutputPath) + ' -DestinationPath ' + (Format-Quoted $zipFile) + ' -Force'
            [void](Invoke-Collect $cmdText {
                Compress-Archive -LiteralPath $OutputPath -DestinationPath $zipFile -Force -ErrorAction Stop
            })
        } else {
            # Compress-Archive reads [ ] in -DestinationPath as wildcards (there is no literal
            # form of that parameter): the same archive, the folder inside it, written by .NET.
            $cmdText = '[System.IO.Compression.ZipFile]::CreateFromDirectory(' + (Format-Quoted $OutputPath) + ', ' + (Format-Quoted $zipFile) + ', Optimal, $true)'
            [void](Invoke-Collect $cmdText {
                Add-Type -AssemblyName System.IO.Compression.FileSystem
                if (Test-Path -LiteralPath $zipFile) { Remove-Item -LiteralPath $zipFile -Force }
                [System.IO.Compression.ZipFile]::CreateFromDirectory($OutputPath, $zipFile, [System.IO.Compression.CompressionLevel]::Optimal, $true)
            })
        }
        if (-not $script:StepFailed) { Write-Host ('Zip: ' + $zipFile) }
    } else {
        Write-LogLine '  zip                     : Compress-Archive is not available (PowerShell 5.0 or later); zip the folder by hand'
        Write-Host 'Compress-Archive is not available: zip the output folder by hand.' -ForegroundColor Yellow
    }
}

# 0: no error; 3: collected, but errors were logged (1, could not start, exited above).
$exitCode = 0
if ($script:ErrorCount -gt 0) { $exitCode = 3 }
Write-LogLine ('  exit code               : ' + $exitCode)

$doneText = 'Done: {0} servers, {1} receive connectors, {2} permission files, {3} errors.' -f $targets.Count, $allConnectors.Count, $permFiles, $script:ErrorCount
if ($exitCode -eq 0) {
    Write-Host $doneText
} else {
    Write-Host ($doneText + ' See collect-log.txt; exit code ' + $exitCode + '.') -ForegroundColor Yellow
}
Write-Host ('Output: ' + $OutputPath + '   (audit it with: relay-audit scan "' + $OutputPath + '")')
exit $exitCode
