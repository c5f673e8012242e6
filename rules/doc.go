// Package rules holds the field rules of ruhu's domain (DOMAIN.md) as pure
// functions over plain input records, a policy and a period: visit cadence,
// work-team residency, officer caseload, team size, who answered a visit,
// housing-case evidence, the work team's "four ones" duties [003] and the
// family-doctor visit cadence per service package [000]. It also owns the policy files (one YAML file per
// jurisdiction and year, embedded defaults shipped with the binary) and the
// calendar of the field: periods, local dates and income years in China
// Standard Time.
//
// It also holds the procedures of the source documents as pure functions:
// the income formula (ComputeIncome, in whole fen), the household exit
// standards (EvaluateExitStandards) and the exit procedure as a state
// machine over its step records (CheckExitStep, ApplyExitStep), the village
// exit indicators (EvaluateVillageExit), review states of evidence
// (CheckReview, ReviewAfterEdit, Countable) and the rectification ledger
// lifecycle (CheckLedgerChange, OverdueLedgerItems). CheckOp is the one
// entry point push admission calls for them per op; refusals are
// *StepError values with stable codes and zh-CN reasons.
//
// The package does no I/O beyond reading policy files from an fs.FS and keeps
// no state between calls: the server converts its stored records into the
// input types declared here, and the reports package rolls the findings up.
//
// Time zone: every local date and period boundary is in China Standard Time,
// a fixed UTC+08:00 zone (see Shanghai). China has observed no daylight saving
// time since 1991, long before any record ruhu holds, so a fixed zone is exact
// and does not depend on the host's tzdata (tablets and minimal containers
// often have none).
package rules
