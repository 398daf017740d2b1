# Version numbers as users type them wrong.
@(
    @{
        Name = 'Test-UpgradePath -To latest'
        Run = { Test-UpgradePath -From 1.7.5 -To latest }
        ErrorId = 'InvalidVersion'; Category = 'InvalidArgument'; Target = 'latest'
    }
    @{
        Name = 'Test-UpgradePath -To an empty string'
        Run = { Test-UpgradePath -From 1.7.5 -To '' }
        ErrorId = 'ParameterArgumentValidationErrorEmptyStringNotAllowed'; Category = 'InvalidData'; Target = ''; Remedy = $false
    }
    @{
        Name = 'Test-UpgradePath -To a number above Int32'
        Run = { Test-UpgradePath -From 1.7.5 -To 99999999999.0.0 }
        ErrorId = 'InvalidVersion'; Category = 'InvalidArgument'; Target = '99999999999.0.0'
    }
    @{
        Name = 'Test-UpgradePath downgrade is a refused result'
        Run = { Test-UpgradePath -From 1.7.6 -To 1.7.5 }
        Expect = 'Result'
        Check = { param($Output) $Output[0].IsSupported | Should -BeFalse; $Output[0].Reason | Should -Match 'restore' }
    }
)
