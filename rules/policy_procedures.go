package rules

// ExitPolicy holds the figures of the household exit procedure (脱贫退出
// 程序) [000]: how long its notices run and the share of signatures the
// village democratic appraisal needs [002].
type ExitPolicy struct {
	// NoticeDays is the shortest notice 公示, in whole days of 24 hours from
	// the instant it is posted to the instant it ends [001].
	NoticeDays int `yaml:"notice_days" json:"notice_days"`
	// SignoffNumerator/SignoffDenominator is the share of those entitled to
	// sign (the households of the village group) whose signatures the
	// appraisal needs; 2/3 in [002].
	SignoffNumerator   int `yaml:"signoff_numerator" json:"signoff_numerator"`
	SignoffDenominator int `yaml:"signoff_denominator" json:"signoff_denominator"`
	// SignoffStrictlyMore demands strictly more than the share ("三分之二
	// 以上" read as more than two-thirds: exactly two-thirds fails) when
	// true, at least the share when false.
	SignoffStrictlyMore bool `yaml:"signoff_strictly_more" json:"signoff_strictly_more"`
	// SchoolAgeFrom..SchoolAgeTo (whole years, both included) is the age of
	// compulsory education: a member of that age must be in school for the
	// household to exit ("家庭无因贫辍学学生" [000]).
	SchoolAgeFrom int `yaml:"school_age_from" json:"school_age_from"`
	SchoolAgeTo   int `yaml:"school_age_to" json:"school_age_to"`
}

// VillageExitPolicy holds the village exit (贫困村出列) standards [000].
type VillageExitPolicy struct {
	// MaxIncidencePercent: poverty incidence must be strictly below it.
	MaxIncidencePercent float64 `yaml:"max_incidence_percent" json:"max_incidence_percent"`
	// MinIndustries is the least number of special industries 特色产业.
	MinIndustries int `yaml:"min_industries" json:"min_industries"`
	// MinCollectiveIncomeYuan is the least yearly collective income, at or
	// above which the standard is met.
	MinCollectiveIncomeYuan float64 `yaml:"min_collective_income_yuan" json:"min_collective_income_yuan"`
}

// ReviewPolicy says how reports treat the review state of evidence.
type ReviewPolicy struct {
	// CountOnlyApproved makes reports count only records whose review state
	// is approved (see Countable).
	CountOnlyApproved bool `yaml:"count_only_approved" json:"count_only_approved"`
}

// PhotoPolicy holds the figures of the photo checks the rules own.
type PhotoPolicy struct {
	// MaxAgeDays: a photo whose EXIF time is more than this many days before
	// the time the tablet recorded attaching it is an old photo. 0 is off.
	MaxAgeDays int `yaml:"max_age_days" json:"max_age_days"`
}
