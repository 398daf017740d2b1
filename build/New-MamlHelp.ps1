#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Generates the MAML help file (UpgradeOps.dll-Help.xml) of the module's compiled cmdlets.
.DESCRIPTION
    Get-Help reads MAML for binary modules. This script builds it from two sources, without platyPS:

    1. The cmdlets' metadata (the module is imported into this process, so run the script in a process of
       its own): verb, noun, parameter sets, each parameter's type, Mandatory, Position, pipeline input,
       aliases, switch parameters, enum and ValidateSet values, [SupportsWildcards], and [OutputType].
       Common parameters (PSCmdlet.CommonParameters and OptionalCommonParameters) are left out.
    2. The C# XML documentation file of the cmdlet assembly:

       On the cmdlet class (member T:<ImplementingType.FullName>):
         <summary>
           <para type="synopsis">One sentence.</para>
           <para type="description">One or more paragraphs.</para>      (untyped text counts as description)
           <para type="link">Other-Cmdlet</para>                         (related link; optional uri="https://...")
           <para type="notes">Text for the NOTES section.</para>         (optional)
         </summary>
         <remarks>More description (same para types accepted).</remarks>
         <returns>Description of the output type(s).</returns>           (optional)
         <example><code>Verb-Noun -Parameter Value</code><para>What it does.</para></example>   (two or more)
         <seealso cref="T:Other.CmdletClass"/> or <seealso href="https://...">text</seealso>    (related links)

       On each parameter property (member P:<DeclaringType>.<Property>, looked up through base classes):
         <summary><para type="description">…</para></summary>           (plain <summary> text works too)
         <para type="default">value</para> in the summary, or <default>value</default>: the default value
         <para type="inputType">…</para> in the summary: describes what the parameter takes from the pipeline

       Inline <see cref>, <see href>, <see langword>, <paramref>, <c> and <list> are rendered as text.

    A cmdlet without a synopsis or description, a parameter without a description, or fewer than two examples
    (each with code and remarks) is reported on the error stream and the script exits with code 1, so the build
    fails instead of shipping thin help. The file is written only when everything is documented.
    Output is UTF-8 (no BOM) with an XML declaration and LF line ends, sorted by cmdlet name: deterministic.
.EXAMPLE
    pwsh -NoProfile -File build/New-MamlHelp.ps1 -ModulePath out/UpgradeOps/UpgradeOps.psd1 -XmlDocPath src/UpgradeOps/bin/Release/net8.0/UpgradeOps.xml -OutFile out/UpgradeOps/en-US/UpgradeOps.dll-Help.xml
#>
[CmdletBinding()]
param(
    # The module manifest (or assembly) to import and document.
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # The XML documentation file the C# compiler wrote for the cmdlet assembly.
    [Parameter(Mandatory)]
    [string] $XmlDocPath,

    # The MAML file to write, normally <module>/en-US/<Assembly>.dll-Help.xml.
    [Parameter(Mandatory)]
    [string] $OutFile
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$NsMsh = 'http://msh'
$NsMaml = 'http://schemas.microsoft.com/maml/2004/10'
$NsCommand = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$NsDev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$NsMsHelp = 'http://msdn.microsoft.com/mshelp'

$Problems = [System.Collections.Generic.List[string]]::new()
# Type of the cmdlet class in doc-id form (Namespace.Class) -> cmdlet name, to render <see cref> as cmdlet names.
$CmdletByDocType = [System.Collections.Generic.Dictionary[string, string]]::new([StringComparer]::Ordinal)
$BadlyFormed = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::Ordinal)
$KnownParaTypes = @('synopsis', 'description', 'link', 'notes', 'note', 'default', 'inputtype')

#region XML documentation text

function Get-DocTypeName([type] $Type) {
    # Doc ids write nested types with '.', reflection with '+'.
    $Type.FullName -replace '\+', '.'
}

function Get-CrefText([string] $Cref) {
    $kind = ''
    $name = $Cref
    if ($Cref -match '^([A-Z!]):(.*)$') {
        $kind = $Matches[1]
        $name = $Matches[2]
    }
    $name = $name -replace '\(.*$', '' -replace '``?\d+', ''
    if ($kind -eq 'T' -and $CmdletByDocType.ContainsKey($name)) { return $CmdletByDocType[$name] }
    $dot = $name.LastIndexOf('.')
    if ($kind -eq 'P' -and $dot -gt 0 -and $CmdletByDocType.ContainsKey($name.Substring(0, $dot))) {
        return '-' + $name.Substring($dot + 1)
    }
    $name.Substring($dot + 1)
}

function Get-NodeText([System.Xml.XmlNode] $Node) {
    # The text of one node, inline elements rendered as plain text (whitespace not yet normalised).
    if ($Node -isnot [System.Xml.XmlElement]) {
        if ($Node.NodeType -in 'Text', 'CDATA', 'Whitespace', 'SignificantWhitespace') { return $Node.Value }
        return ''
    }
    switch ($Node.LocalName) {
        { $_ -in 'see', 'seealso' } {
            $inner = Get-InnerText $Node
            if ($Node.HasAttribute('langword')) { return $Node.GetAttribute('langword') }
            if ($Node.HasAttribute('cref')) {
                if ($inner.Trim()) { return $inner }
                return Get-CrefText $Node.GetAttribute('cref')
            }
            if ($Node.HasAttribute('href')) {
                $href = $Node.GetAttribute('href')
                if ($inner.Trim() -and $inner.Trim() -ne $href) { return "$inner ($href)" }
                return $href
            }
            return $inner
        }
        { $_ -in 'paramref', 'typeparamref' } { return $Node.GetAttribute('name') }
        'br' { return ' ' }
        'list' {
            return ' ' + ((Get-ListItems $Node) -join ' ') + ' '
        }
        default { return Get-InnerText $Node }
    }
}

function Get-InnerText([System.Xml.XmlNode] $Node) {
    $text = [System.Text.StringBuilder]::new()
    foreach ($child in $Node.ChildNodes) { $null = $text.Append((Get-NodeText $child)) }
    $text.ToString()
}

function ConvertTo-Paragraph([string] $Text) {
    ($Text -replace '\s+', ' ').Trim()
}

function Get-ListItems([System.Xml.XmlElement] $List) {
    $numbered = $List.GetAttribute('type') -eq 'number'
    $index = 0
    foreach ($item in $List.ChildNodes) {
        if ($item -isnot [System.Xml.XmlElement] -or $item.LocalName -notin 'item', 'listheader') { continue }
        $term = $item.SelectSingleNode('term')
        $description = $item.SelectSingleNode('description')
        $text = if ($term -and $description) {
            '{0}: {1}' -f (ConvertTo-Paragraph (Get-InnerText $term)), (ConvertTo-Paragraph (Get-InnerText $description))
        }
        elseif ($description) { ConvertTo-Paragraph (Get-InnerText $description) }
        else { ConvertTo-Paragraph (Get-InnerText $item) }
        if (-not $text) { continue }
        $index++
        if ($numbered) { "$index. $text" } else { "- $text" }
    }
}

function Get-Paragraphs([System.Xml.XmlNode] $Node) {
    # Splits mixed content into paragraphs: each <para> and each list item is one, loose text between them another.
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $current = [System.Text.StringBuilder]::new()
    foreach ($child in $Node.ChildNodes) {
        $isBlock = $child -is [System.Xml.XmlElement] -and $child.LocalName -in 'para', 'list', 'code'
        if (-not $isBlock) {
            $null = $current.Append((Get-NodeText $child))
            continue
        }
        $text = ConvertTo-Paragraph $current.ToString()
        if ($text) { $paragraphs.Add($text) }
        $null = $current.Clear()
        switch ($child.LocalName) {
            'para' { foreach ($p in Get-Paragraphs $child) { $paragraphs.Add($p) } }
            'list' { foreach ($p in Get-ListItems $child) { $paragraphs.Add($p) } }
            'code' {
                $code = Get-CodeText $child
                if ($code) { $paragraphs.Add($code) }
            }
        }
    }
    $text = ConvertTo-Paragraph $current.ToString()
    if ($text) { $paragraphs.Add($text) }
    , $paragraphs.ToArray()
}

function Get-MemberIndent([System.Xml.XmlElement] $Member) {
    # The compiler indents every line of a member's doc comment by the same amount: that of its first child.
    foreach ($child in $Member.ChildNodes) {
        if ($child.NodeType -in 'Whitespace', 'SignificantWhitespace', 'Text') {
            $value = $child.Value -replace "`r", ''
            $newline = $value.LastIndexOf("`n")
            if ($newline -ge 0 -and $value.Substring($newline + 1).Trim().Length -eq 0) {
                return $value.Length - $newline - 1
            }
        }
        elseif ($child -is [System.Xml.XmlElement]) { break }
    }
    -1
}

function Get-CodeText([System.Xml.XmlElement] $Code) {
    # Keeps the code's line breaks and relative indentation; strips the doc comment's indentation.
    $member = $Code
    while ($member -and $member.LocalName -ne 'member') { $member = $member.ParentNode }
    $baseIndent = if ($member -is [System.Xml.XmlElement]) { Get-MemberIndent $member } else { -1 }

    $raw = (Get-InnerText $Code) -replace "`r`n?", "`n"
    $lines = [System.Collections.Generic.List[string]]::new([string[]]$raw.Split("`n"))
    $firstInline = $lines.Count -gt 0 -and $lines[0].Trim().Length -gt 0
    # Lines after the first carry the doc comment's indentation; the first does too unless it follows <code> directly.
    if ($baseIndent -lt 0) {
        $indents = for ($i = 1; $i -lt $lines.Count; $i++) {
            if ($lines[$i].Trim()) { $lines[$i].Length - $lines[$i].TrimStart().Length }
        }
        $baseIndent = ($indents | Measure-Object -Minimum).Minimum
        if ($null -eq $baseIndent) { $baseIndent = 0 }
    }
    for ($i = 0; $i -lt $lines.Count; $i++) {
        if ($i -eq 0 -and $firstInline) { continue }
        $line = $lines[$i]
        $strip = [Math]::Min($baseIndent, $line.Length - $line.TrimStart().Length)
        $lines[$i] = $line.Substring($strip).TrimEnd()
    }
    $lines[0] = $lines[0].TrimEnd()
    while ($lines.Count -gt 0 -and -not $lines[0].Trim()) { $lines.RemoveAt(0) }
    while ($lines.Count -gt 0 -and -not $lines[$lines.Count - 1].Trim()) { $lines.RemoveAt($lines.Count - 1) }
    if ($lines.Count -eq 0) { return '' }
    # Then the indentation common to all lines (code written on its own lines, indented further).
    $common = ($lines | Where-Object { $_.Trim() } | ForEach-Object { $_.Length - $_.TrimStart().Length } | Measure-Object -Minimum).Minimum
    if ($common -gt 0) {
        for ($i = 0; $i -lt $lines.Count; $i++) {
            $lines[$i] = if ($lines[$i].Length -ge $common) { $lines[$i].Substring($common) } else { $lines[$i].TrimStart() }
        }
    }
    $lines -join "`n"
}

function Split-DocSection([System.Xml.XmlElement] $Container, [string] $Where) {
    # Paragraph groups of a <summary> or <remarks>, in order, each with its para type ('' when untyped).
    $sections = [System.Collections.Generic.List[object]]::new()
    $loose = [System.Collections.Generic.List[System.Xml.XmlNode]]::new()
    $flushLoose = {
        if ($loose.Count -eq 0) { return }
        $holder = $Container.OwnerDocument.CreateElement('holder')
        foreach ($node in $loose) { $null = $holder.AppendChild($node.CloneNode($true)) }
        $loose.Clear()
        $paragraphs = Get-Paragraphs $holder
        if ($paragraphs.Count) { $sections.Add([pscustomobject]@{ Type = ''; Paragraphs = $paragraphs; Element = $null }) }
    }
    foreach ($child in $Container.ChildNodes) {
        if ($child -is [System.Xml.XmlElement] -and $child.LocalName -eq 'para' -and $child.GetAttribute('type')) {
            . $flushLoose
            $type = $child.GetAttribute('type').ToLowerInvariant()
            if ($type -notin $KnownParaTypes) {
                Write-Warning "$($Where): unknown <para type=`"$($child.GetAttribute('type'))`">, treated as description."
                $type = ''
            }
            $sections.Add([pscustomobject]@{ Type = $type; Paragraphs = (Get-Paragraphs $child); Element = $child })
        }
        else {
            $loose.Add($child)
        }
    }
    . $flushLoose
    , $sections.ToArray()
}

function Get-SectionParagraphs([object[]] $Sections, [string[]] $Types) {
    , @(foreach ($section in $Sections) { if ($section.Type -in $Types) { $section.Paragraphs } })
}

function Read-CmdletDoc([System.Xml.XmlElement] $Member, [string] $CmdletName) {
    $where = "$CmdletName ($($Member.GetAttribute('name')))"
    $sections = @()
    foreach ($container in $Member.SelectNodes('summary|remarks')) { $sections += Split-DocSection $container $where }

    $links = [System.Collections.Generic.List[object]]::new()
    foreach ($section in $sections) {
        if ($section.Type -ne 'link') { continue }
        $text = ConvertTo-Paragraph (Get-InnerText $section.Element)
        $uri = $section.Element.GetAttribute('uri')
        if (-not $uri -and $text -match '^https?://\S+$') { $uri = $text }
        if ($text -or $uri) { $links.Add([pscustomobject]@{ Text = $text; Uri = $uri }) }
    }
    foreach ($seealso in $Member.SelectNodes('seealso')) {
        $href = $seealso.GetAttribute('href')
        $text = ConvertTo-Paragraph (Get-InnerText $seealso)
        if (-not $text -and $seealso.HasAttribute('cref')) { $text = Get-CrefText $seealso.GetAttribute('cref') }
        if (-not $text) { $text = $href }
        $links.Add([pscustomobject]@{ Text = $text; Uri = $href })
    }
    $seen = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::OrdinalIgnoreCase)
    $links = @($links | Where-Object { $seen.Add("$($_.Text)`n$($_.Uri)") })

    $examples = foreach ($example in $Member.SelectNodes('example')) {
        $codes = @(foreach ($code in $example.SelectNodes('code')) { Get-CodeText $code })
        $rest = $example.CloneNode($true)
        foreach ($code in @($rest.SelectNodes('code'))) { $null = $rest.RemoveChild($code) }
        [pscustomobject]@{
            Code    = (@($codes | Where-Object { $_ }) -join "`n`n")
            Remarks = Get-Paragraphs $rest
        }
    }

    $returns = $Member.SelectSingleNode('returns')
    [pscustomobject]@{
        Synopsis    = (Get-SectionParagraphs $sections 'synopsis') -join ' '
        Description = Get-SectionParagraphs $sections 'description', ''
        Notes       = Get-SectionParagraphs $sections 'notes', 'note'
        Links       = $links
        Examples    = @($examples)
        Returns     = if ($returns) { Get-Paragraphs $returns } else { @() }
    }
}

function Read-ParameterDoc([System.Xml.XmlElement] $Member, [string] $Where) {
    $sections = @()
    foreach ($container in $Member.SelectNodes('summary|remarks')) { $sections += Split-DocSection $container $Where }
    $default = (Get-SectionParagraphs $sections 'default') -join ' '
    if (-not $default) {
        $element = $Member.SelectSingleNode('default|defaultValue')
        if ($element) { $default = ConvertTo-Paragraph (Get-InnerText $element) }
    }
    [pscustomobject]@{
        Description = Get-SectionParagraphs $sections 'description', ''
        Default     = $default
        InputType   = Get-SectionParagraphs $sections 'inputtype'
    }
}

#endregion

#region Cmdlet metadata

function Get-ElementType([type] $Type) {
    $t = $Type
    while ($t.IsArray) { $t = $t.GetElementType() }
    $underlying = [Nullable]::GetUnderlyingType($t)
    if ($underlying) { $t = $underlying }
    $t
}

function Get-TypeName([type] $Type, [switch] $Full) {
    if ($Type.IsArray) { return (Get-TypeName $Type.GetElementType() -Full:$Full) + '[]' }
    $underlying = [Nullable]::GetUnderlyingType($Type)
    if ($underlying) { return Get-TypeName $underlying -Full:$Full }
    $name = if ($Full -and $Type.FullName) { $Type.FullName } else { $Type.Name }
    if ($Type.IsGenericType) {
        $name = ($name -replace '`\d+.*$', '')
        $arguments = @($Type.GetGenericArguments() | ForEach-Object { Get-TypeName $_ -Full:$Full }) -join ', '
        return "$name[$arguments]"
    }
    $name -replace '\+', '.'
}

function Get-PropertyInfo([type] $Type, [string] $Name) {
    $flags = [System.Reflection.BindingFlags]'Public, NonPublic, Instance, Static'
    for ($t = $Type; $t; $t = $t.BaseType) {
        $property = $t.GetProperty($Name, $flags -bor [System.Reflection.BindingFlags]::DeclaredOnly)
        if ($property) { return $property }
        $field = $t.GetField($Name, $flags -bor [System.Reflection.BindingFlags]::DeclaredOnly)
        if ($field) { return $field }
    }
    $null
}

function Get-PipelineInput([bool] $ByValue, [bool] $ByPropertyName) {
    if ($ByValue -and $ByPropertyName) { 'True (ByValue, ByPropertyName)' }
    elseif ($ByValue) { 'True (ByValue)' }
    elseif ($ByPropertyName) { 'True (ByPropertyName)' }
    else { 'False' }
}

function Get-CmdletModel([System.Management.Automation.CmdletInfo] $Command, [hashtable] $Members) {
    $type = $Command.ImplementingType
    $typeId = 'T:' + (Get-DocTypeName $type)
    $common = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::OrdinalIgnoreCase)
    foreach ($name in [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters) {
        $null = $common.Add($name)
    }

    $doc = if ($Members.ContainsKey($typeId)) {
        Read-CmdletDoc $Members[$typeId] $Command.Name
    }
    elseif ($BadlyFormed.Contains($typeId)) {
        $Problems.Add("$($Command.Name): the doc comment of $typeId is not well-formed XML, so the compiler dropped it (warning CS1570; escape & and < as &amp; and &lt;).")
        [pscustomobject]@{ Synopsis = ''; Description = @(); Notes = @(); Links = @(); Examples = @(); Returns = @() }
    }
    else {
        $Problems.Add("$($Command.Name): no XML documentation for the cmdlet class ($typeId). Add a /// <summary> with <para type=`"synopsis`"> and <para type=`"description`">, and <example> elements.")
        [pscustomobject]@{ Synopsis = ''; Description = @(); Notes = @(); Links = @(); Examples = @(); Returns = @() }
    }
    if (-not $doc.Synopsis) {
        $Problems.Add("$($Command.Name): no synopsis. Add <para type=`"synopsis`">...</para> to the <summary> of $typeId.")
    }
    elseif ($doc.Synopsis -eq $Command.Name) {
        $Problems.Add("$($Command.Name): the synopsis is only the cmdlet name; say what the cmdlet does.")
    }
    if ($doc.Description.Count -eq 0) {
        $Problems.Add("$($Command.Name): no description. Add <para type=`"description`">...</para> to the <summary> of $typeId.")
    }
    if ($doc.Examples.Count -lt 2) {
        $Problems.Add("$($Command.Name): $($doc.Examples.Count) example(s); at least 2 are required (<example><code>...</code><para>...</para></example> on $typeId).")
    }
    for ($i = 0; $i -lt $doc.Examples.Count; $i++) {
        if (-not $doc.Examples[$i].Code) { $Problems.Add("$($Command.Name): example $($i + 1) has no <code>.") }
        if ($doc.Examples[$i].Remarks.Count -eq 0) { $Problems.Add("$($Command.Name): example $($i + 1) has no remarks (<para> after the <code>).") }
    }

    # Parameters, merged over their parameter sets: required if mandatory in any set, position from the first set
    # (the default first) that gives one, pipeline input from all. Syntax items keep each set's own attributes.
    $sets = @($Command.ParameterSets | Sort-Object { -not $_.IsDefault }, { $_.Name } -Culture ([cultureinfo]::InvariantCulture))
    $parameters = [ordered]@{}
    foreach ($set in $sets) {
        foreach ($p in $set.Parameters) {
            if ($common.Contains($p.Name) -or $p.IsDynamic) { continue }
            if (-not $parameters.Contains($p.Name)) {
                $parameters[$p.Name] = [pscustomobject]@{
                    Name = $p.Name; Type = $p.ParameterType; Metadata = $p
                    Required = $false; Position = 'named'; ByValue = $false; ByPropertyName = $false
                    Aliases = @($p.Aliases); Globbing = $false; Values = @(); Doc = $null
                }
            }
            $model = $parameters[$p.Name]
            if ($p.IsMandatory) { $model.Required = $true }
            if ($p.Position -ge 0 -and $model.Position -eq 'named') { $model.Position = [string]$p.Position }
            if ($p.ValueFromPipeline) { $model.ByValue = $true }
            if ($p.ValueFromPipelineByPropertyName) { $model.ByPropertyName = $true }
        }
    }

    foreach ($model in $parameters.Values) {
        $member = Get-PropertyInfo $type $model.Name
        $attributes = @($model.Metadata.Attributes)
        if ($member) { $attributes += $member.GetCustomAttributes($true) }
        $model.Globbing = [bool]($attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
        $validateSet = $attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | Select-Object -First 1
        $elementType = Get-ElementType $model.Type
        if ($validateSet) { $model.Values = @($validateSet.ValidValues) }
        elseif ($elementType.IsEnum) { $model.Values = @([Enum]::GetNames($elementType)) }

        # The doc comment of the property, on the cmdlet class or the base class that declares it.
        $declaring = if ($member) { $member.DeclaringType } else { $type }
        $memberId = "P:$(Get-DocTypeName $declaring).$($model.Name)"
        $fieldId = "F:$(Get-DocTypeName $declaring).$($model.Name)"
        $docMember = if ($Members.ContainsKey($memberId)) { $Members[$memberId] } elseif ($Members.ContainsKey($fieldId)) { $Members[$fieldId] }
        $model.Doc = if ($docMember) { Read-ParameterDoc $docMember "$($Command.Name) -$($model.Name)" } else { [pscustomobject]@{ Description = @(); Default = ''; InputType = @() } }
        if ($BadlyFormed.Contains($memberId) -or $BadlyFormed.Contains($fieldId)) {
            $Problems.Add("$($Command.Name) -$($model.Name): the doc comment of $memberId is not well-formed XML, so the compiler dropped it (warning CS1570; escape & and < as &amp; and &lt;).")
        }
        elseif ($model.Doc.Description.Count -eq 0) {
            $Problems.Add("$($Command.Name) -$($model.Name): no description. Add /// <summary><para type=`"description`">...</para></summary> to $memberId.")
        }
    }

    [pscustomobject]@{
        Command    = $Command
        Doc        = $doc
        Sets       = $sets
        Parameters = $parameters
    }
}

#endregion

#region MAML writer

function Write-Paras([System.Xml.XmlWriter] $W, [string[]] $Paragraphs) {
    $W.WriteStartElement('maml', 'description', $NsMaml)
    $any = $false
    foreach ($p in $Paragraphs) {
        if (-not $p) { continue }
        $W.WriteElementString('maml', 'para', $NsMaml, $p)
        $any = $true
    }
    if (-not $any) { $W.WriteElementString('maml', 'para', $NsMaml, '') }
    $W.WriteEndElement()
}

function Write-Parameter([System.Xml.XmlWriter] $W, $Model, [bool] $Required, [string] $Position, [string] $PipelineInput, [switch] $Syntax) {
    $isSwitch = $Model.Type -eq [System.Management.Automation.SwitchParameter]
    $W.WriteStartElement('command', 'parameter', $NsCommand)
    $W.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $W.WriteAttributeString('variableLength', $Model.Type.IsArray.ToString().ToLowerInvariant())
    $W.WriteAttributeString('globbing', $Model.Globbing.ToString().ToLowerInvariant())
    $W.WriteAttributeString('pipelineInput', $PipelineInput)
    $W.WriteAttributeString('position', $Position)
    $W.WriteAttributeString('aliases', $(if ($Model.Aliases.Count) { $Model.Aliases -join ', ' } else { 'none' }))
    $W.WriteElementString('maml', 'name', $NsMaml, $Model.Name)
    Write-Paras $W $Model.Doc.Description

    if ($Model.Values.Count -and -not $isSwitch) {
        $W.WriteStartElement('command', 'parameterValueGroup', $NsCommand)
        foreach ($value in $Model.Values) {
            $W.WriteStartElement('command', 'parameterValue', $NsCommand)
            $W.WriteAttributeString('required', 'false')
            $W.WriteAttributeString('command', 'variableLength', $NsCommand, 'false')
            $W.WriteString($value)
            $W.WriteEndElement()
        }
        $W.WriteEndElement()
    }
    # In syntax a switch has no value (shown as [-Name]); in the parameter list it shows as -Name [<SwitchParameter>].
    if (-not ($isSwitch -and $Syntax)) {
        $W.WriteStartElement('command', 'parameterValue', $NsCommand)
        $W.WriteAttributeString('required', (-not $isSwitch).ToString().ToLowerInvariant())
        $W.WriteAttributeString('variableLength', $Model.Type.IsArray.ToString().ToLowerInvariant())
        $W.WriteString((Get-TypeName $Model.Type))
        $W.WriteEndElement()
    }
    $W.WriteStartElement('dev', 'type', $NsDev)
    $W.WriteElementString('maml', 'name', $NsMaml, (Get-TypeName $Model.Type -Full))
    $W.WriteElementString('maml', 'uri', $NsMaml, '')
    $W.WriteEndElement()
    $default = if ($Model.Doc.Default) { $Model.Doc.Default } elseif ($isSwitch) { 'False' } else { 'None' }
    $W.WriteElementString('dev', 'defaultValue', $NsDev, $default)
    $W.WriteEndElement()
}

function Write-TypeEntry([System.Xml.XmlWriter] $W, [string] $Element, [string] $TypeName, [string[]] $Paragraphs) {
    $W.WriteStartElement('command', $Element, $NsCommand)
    $W.WriteStartElement('dev', 'type', $NsDev)
    $W.WriteElementString('maml', 'name', $NsMaml, $TypeName)
    $W.WriteEndElement()
    Write-Paras $W $Paragraphs
    $W.WriteEndElement()
}

function Join-Names([string[]] $Names, [string] $Conjunction) {
    if ($Names.Count -le 1) { return $Names -join '' }
    ($Names[0..($Names.Count - 2)] -join ', ') + " $Conjunction " + $Names[-1]
}

function Write-Command([System.Xml.XmlWriter] $W, $Model) {
    $command = $Model.Command
    $doc = $Model.Doc
    $W.WriteStartElement('command', 'command', $NsCommand)
    $W.WriteAttributeString('xmlns', 'maml', $null, $NsMaml)
    $W.WriteAttributeString('xmlns', 'command', $null, $NsCommand)
    $W.WriteAttributeString('xmlns', 'dev', $null, $NsDev)
    $W.WriteAttributeString('xmlns', 'MSHelp', $null, $NsMsHelp)

    $W.WriteStartElement('command', 'details', $NsCommand)
    $W.WriteElementString('command', 'name', $NsCommand, $command.Name)
    $W.WriteElementString('command', 'verb', $NsCommand, $command.Verb)
    $W.WriteElementString('command', 'noun', $NsCommand, $command.Noun)
    Write-Paras $W @($doc.Synopsis)
    $W.WriteEndElement()

    Write-Paras $W $doc.Description

    # Syntax: one item per parameter set (the default first); positional parameters by position, then the
    # mandatory ones, then the rest in declaration order, as Get-Command -Syntax shows them.
    $W.WriteStartElement('command', 'syntax', $NsCommand)
    foreach ($set in $Model.Sets) {
        $W.WriteStartElement('command', 'syntaxItem', $NsCommand)
        $W.WriteElementString('maml', 'name', $NsMaml, $command.Name)
        $inSet = @($set.Parameters | Where-Object { $Model.Parameters.Contains($_.Name) })
        $positional = @($inSet | Where-Object { $_.Position -ge 0 } | Sort-Object Position)
        $mandatory = @($inSet | Where-Object { $_.Position -lt 0 -and $_.IsMandatory })
        $optional = @($inSet | Where-Object { $_.Position -lt 0 -and -not $_.IsMandatory })
        foreach ($p in $positional + $mandatory + $optional) {
            $position = if ($p.Position -ge 0) { [string]$p.Position } else { 'named' }
            Write-Parameter $W $Model.Parameters[$p.Name] $p.IsMandatory $position (Get-PipelineInput $p.ValueFromPipeline $p.ValueFromPipelineByPropertyName) -Syntax
        }
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    # Parameters, alphabetically (as platyPS writes them).
    $W.WriteStartElement('command', 'parameters', $NsCommand)
    $names = [string[]]@($Model.Parameters.Keys)
    [Array]::Sort($names, [StringComparer]::OrdinalIgnoreCase)
    foreach ($name in $names) {
        $p = $Model.Parameters[$name]
        Write-Parameter $W $p $p.Required $p.Position (Get-PipelineInput $p.ByValue $p.ByPropertyName)
    }
    $W.WriteEndElement()

    # Inputs: the types of the parameters that take pipeline input, saying how each binds.
    $W.WriteStartElement('command', 'inputTypes', $NsCommand)
    $byType = [System.Collections.Generic.SortedDictionary[string, object]]::new([StringComparer]::Ordinal)
    foreach ($name in $names) {
        $p = $Model.Parameters[$name]
        if (-not ($p.ByValue -or $p.ByPropertyName)) { continue }
        $typeName = Get-TypeName $p.Type -Full
        if (-not $byType.ContainsKey($typeName)) { $byType[$typeName] = [System.Collections.Generic.List[string]]::new() }
        if ($p.Doc.InputType.Count) { $byType[$typeName].AddRange([string[]]$p.Doc.InputType); continue }
        if ($p.ByValue) {
            $text = if ($p.Type.IsArray) { "You can pipe one or more $(Get-TypeName (Get-ElementType $p.Type) -Full) objects to -$($p.Name)." }
            else { "You can pipe $typeName objects to -$($p.Name)." }
            $byType[$typeName].Add($text)
        }
        if ($p.ByPropertyName) {
            $properties = Join-Names (@($p.Name) + $p.Aliases) 'or'
            $byType[$typeName].Add("-$($p.Name) takes the $properties property of piped objects.")
        }
    }
    if ($byType.Count -eq 0) {
        Write-TypeEntry $W 'inputType' 'None' @("You can't pipe objects to $($command.Name).")
    }
    foreach ($entry in $byType.GetEnumerator()) { Write-TypeEntry $W 'inputType' $entry.Key $entry.Value.ToArray() }
    $W.WriteEndElement()

    $W.WriteStartElement('command', 'returnValues', $NsCommand)
    $outputs = [string[]]@($command.OutputType | ForEach-Object { if ($_.Type) { Get-TypeName $_.Type -Full } else { $_.Name } } | Select-Object -Unique)
    [Array]::Sort($outputs, [StringComparer]::Ordinal)
    if ($outputs.Count -eq 0) { Write-TypeEntry $W 'returnValue' 'None' @("$($command.Name) returns no output.") }
    foreach ($output in $outputs) { Write-TypeEntry $W 'returnValue' $output $doc.Returns }
    $W.WriteEndElement()

    if ($doc.Notes.Count) {
        $W.WriteStartElement('maml', 'alertSet', $NsMaml)
        $W.WriteStartElement('maml', 'alert', $NsMaml)
        foreach ($p in $doc.Notes) { $W.WriteElementString('maml', 'para', $NsMaml, $p) }
        $W.WriteEndElement()
        $W.WriteEndElement()
    }

    $W.WriteStartElement('command', 'examples', $NsCommand)
    for ($i = 0; $i -lt $doc.Examples.Count; $i++) {
        $example = $doc.Examples[$i]
        $W.WriteStartElement('command', 'example', $NsCommand)
        $W.WriteElementString('maml', 'title', $NsMaml, "-------------------------- EXAMPLE $($i + 1) --------------------------")
        $W.WriteElementString('dev', 'code', $NsDev, $example.Code)
        $W.WriteStartElement('dev', 'remarks', $NsDev)
        foreach ($p in $example.Remarks) { $W.WriteElementString('maml', 'para', $NsMaml, $p) }
        # Get-Help prints the next example's title right under the last remark: an empty para spaces them.
        $W.WriteElementString('maml', 'para', $NsMaml, '')
        $W.WriteEndElement()
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    $W.WriteStartElement('command', 'relatedLinks', $NsCommand)
    foreach ($link in $doc.Links) {
        $W.WriteStartElement('maml', 'navigationLink', $NsMaml)
        $W.WriteElementString('maml', 'linkText', $NsMaml, $link.Text)
        $W.WriteElementString('maml', 'uri', $NsMaml, $link.Uri)
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    $W.WriteEndElement()
}

#endregion

if (-not (Test-Path -LiteralPath $XmlDocPath -PathType Leaf)) {
    throw "XML documentation file not found: $XmlDocPath. Is <GenerateDocumentationFile>true</GenerateDocumentationFile> set in the cmdlet project?"
}
$xmlDoc = [System.Xml.XmlDocument]::new()
$xmlDoc.PreserveWhitespace = $true
try {
    $xmlDoc.Load((Resolve-Path -LiteralPath $XmlDocPath).ProviderPath)
}
catch {
    throw "The XML documentation file $XmlDocPath is not well-formed XML: $($_.Exception.Message)"
}
$members = @{}
foreach ($member in $xmlDoc.SelectNodes('/doc/members/member')) { $members[$member.GetAttribute('name')] = $member }
# The compiler drops a doc comment that is not well-formed XML (warning CS1570) and leaves a comment in its place.
foreach ($comment in $xmlDoc.SelectNodes('//comment()')) {
    if ($comment.Value -match 'Badly formed XML comment ignored for member "([^"]+)"') { $null = $BadlyFormed.Add($Matches[1]) }
}

$module = Import-Module -Name (Resolve-Path -LiteralPath $ModulePath).ProviderPath -PassThru -Force -DisableNameChecking |
    Select-Object -First 1
$assemblyName = $xmlDoc.SelectSingleNode('/doc/assembly/name').InnerText.Trim()
$helpFileName = [System.IO.Path]::GetFileName($OutFile)
$commands = @(Get-Command -Module $module.Name -CommandType Cmdlet | Where-Object {
        # One MAML file per assembly: cmdlets of another assembly read another help file, from another XML doc.
        if ($_.ImplementingType.Assembly.GetName().Name -eq $assemblyName) { return $true }
        Write-Warning "$($_.Name) is implemented in $($_.ImplementingType.Assembly.GetName().Name), not $($assemblyName): not documented here."
        $false
    })
if ($commands.Count -eq 0) { throw "Module $($module.Name) ($ModulePath) exports no cmdlets from assembly $assemblyName." }
foreach ($command in $commands) {
    if ($command.HelpFile -and $command.HelpFile -ne $helpFileName) {
        Write-Warning "$($command.Name): Get-Help reads $($command.HelpFile), not $helpFileName."
    }
}
$commands = @($commands | Sort-Object Name -Culture ([cultureinfo]::InvariantCulture) -CaseSensitive:$false)
foreach ($command in $commands) { $CmdletByDocType[(Get-DocTypeName $command.ImplementingType)] = $command.Name }

$models = foreach ($command in $commands) { Get-CmdletModel $command $members }

# Related links that name a command should name one that exists.
foreach ($model in $models) {
    foreach ($link in $model.Doc.Links) {
        if (-not $link.Uri -and $link.Text -match '^[A-Za-z]+-[A-Za-z0-9]+$' -and -not (Get-Command $link.Text -ErrorAction Ignore)) {
            Write-Warning "$($model.Command.Name): related link '$($link.Text)' names no known command."
        }
    }
}

if ($Problems.Count) {
    foreach ($problem in $Problems) {
        Write-Error -Message "Help incomplete: $problem" -Category InvalidData -ErrorId 'IncompleteHelp' -ErrorAction Continue
    }
    [Console]::Error.WriteLine("New-MamlHelp: $($Problems.Count) problem(s) in the help of $($module.Name) (XML doc comments, $XmlDocPath); $OutFile was not written.")
    exit 1
}

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.IndentChars = '  '
$settings.NewLineChars = "`n"
$settings.NewLineHandling = [System.Xml.NewLineHandling]::Replace
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$stream = [System.IO.MemoryStream]::new()
$writer = [System.Xml.XmlWriter]::Create($stream, $settings)
try {
    $writer.WriteStartDocument()
    $writer.WriteStartElement('helpItems', $NsMsh)
    $writer.WriteAttributeString('schema', 'maml')
    foreach ($model in $models) { Write-Command $writer $model }
    $writer.WriteEndElement()
    $writer.WriteEndDocument()
}
finally {
    $writer.Dispose()
}

$outPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutFile)
$null = New-Item -ItemType Directory -Force -Path ([System.IO.Path]::GetDirectoryName($outPath))
$bytes = $stream.ToArray() + [byte[]][char[]]"`n"
[System.IO.File]::WriteAllBytes($outPath, $bytes)
Write-Host "MAML help for $($commands.Count) cmdlet(s): $outPath"
