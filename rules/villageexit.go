package rules

import (
	"fmt"
	"math"
	"sort"
)

// VillageIndustry is a special industry 特色产业 of a village (a
// cooperative, a planting or breeding base, rural tourism...).
type VillageIndustry struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// CollectiveIncomeItem is one entry of a village's collective income for
// the year judged. Transfer income (上级拨款, 补助) is not collective
// economic income [000] and is listed apart.
type CollectiveIncomeItem struct {
	ID       string `json:"id"`
	Source   string `json:"source"`
	Amount   Fen    `json:"amount"`
	Transfer bool   `json:"transfer"`
}

// VillageExitInput is what the village exit indicators are computed from.
type VillageExitInput struct {
	Code, Name string
	// Population is the village's total population (公安部门证明).
	Population int
	// Households are the village's registered households; their status
	// (as of the judging instant) decides who remains poor.
	Households       []Household
	Industries       []VillageIndustry
	CollectiveIncome []CollectiveIncomeItem
}

// VillageExitIndicators are the village exit (贫困村出列) indicators of
// [000], each number with the list behind it.
type VillageExitIndicators struct {
	Code string `json:"code"`
	Name string `json:"name"`
	// RemainingPoor counts the people of the households still in poverty
	// (未脱贫 and 返贫), listed in RemainingHouseholds.
	Population          int      `json:"population"`
	RemainingPoor       int      `json:"remaining_poor"`
	RemainingHouseholds []string `json:"remaining_households"`
	// IncidencePercent is RemainingPoor ÷ Population × 100, for display;
	// IncidenceMet compares exactly in integers.
	IncidencePercent float64           `json:"incidence_percent"`
	IncidenceMet     bool              `json:"incidence_met"`
	Industries       []VillageIndustry `json:"industries"`
	IndustriesMet    bool              `json:"industries_met"`
	// CollectiveIncome sums CountedIncome; ExcludedIncome lists transfers.
	CollectiveIncome Fen                    `json:"collective_income"`
	CountedIncome    []CollectiveIncomeItem `json:"counted_income"`
	ExcludedIncome   []CollectiveIncomeItem `json:"excluded_income"`
	IncomeMet        bool                   `json:"income_met"`
	Met              bool                   `json:"met"`
	Unmet            []UnmetStandard        `json:"unmet"`
}

// EvaluateVillageExit computes the village exit indicators under the
// village's policy: poverty incidence strictly below the policy's percent
// (a village of unknown population does not meet it), at least the
// policy's number of industries, and collective income (transfers
// excluded) at or above the policy's figure. A household counts as people
// by its members (at least one, its head).
func EvaluateVillageExit(in VillageExitInput, p Policy) VillageExitIndicators {
	out := VillageExitIndicators{Code: in.Code, Name: in.Name, Population: in.Population,
		Industries: append([]VillageIndustry(nil), in.Industries...)}
	for _, h := range in.Households {
		if h.Status != StatusPoor && h.Status != StatusFellBack {
			continue
		}
		out.RemainingPoor += max(len(h.Members), 1)
		out.RemainingHouseholds = append(out.RemainingHouseholds, h.ID)
	}
	sort.Strings(out.RemainingHouseholds)
	// remaining/population < percent/100, with percent in hundredths.
	hundredths := int64(math.Round(p.VillageExit.MaxIncidencePercent * 100))
	if in.Population > 0 {
		out.IncidencePercent = float64(out.RemainingPoor) * 100 / float64(in.Population)
		out.IncidenceMet = int64(out.RemainingPoor)*10000 < hundredths*int64(in.Population)
	}
	out.IndustriesMet = len(in.Industries) >= p.VillageExit.MinIndustries
	for _, it := range in.CollectiveIncome {
		if it.Transfer {
			out.ExcludedIncome = append(out.ExcludedIncome, it)
			continue
		}
		out.CountedIncome = append(out.CountedIncome, it)
		out.CollectiveIncome += it.Amount
	}
	min := YuanToFen(p.VillageExit.MinCollectiveIncomeYuan)
	out.IncomeMet = out.CollectiveIncome >= min
	if !out.IncidenceMet {
		detail := fmt.Sprintf("剩余贫困人口%d人，总人口%d人，贫困发生率%.2f%%，须低于%g%%",
			out.RemainingPoor, in.Population, out.IncidencePercent, p.VillageExit.MaxIncidencePercent)
		if in.Population <= 0 {
			detail = "未记录全村总人口，无法计算贫困发生率"
		}
		out.Unmet = append(out.Unmet, UnmetStandard{Code: "incidence_too_high", Title: "贫困发生率未降至标准以下",
			Detail: detail, RecordIDs: out.RemainingHouseholds})
	}
	if !out.IndustriesMet {
		out.Unmet = append(out.Unmet, UnmetStandard{Code: "industries_missing", Title: "特色产业不足",
			Detail: fmt.Sprintf("特色产业%d项，须至少%d项", len(in.Industries), p.VillageExit.MinIndustries)})
	}
	if !out.IncomeMet {
		ids := make([]string, len(out.CountedIncome))
		for i, it := range out.CountedIncome {
			ids[i] = it.ID
		}
		out.Unmet = append(out.Unmet, UnmetStandard{Code: "collective_income_low", Title: "村集体经济收入未达标",
			Detail: fmt.Sprintf("村集体经济收入%s元（不含转移性收入），须达到%s元", out.CollectiveIncome, min), RecordIDs: ids})
	}
	out.Met = len(out.Unmet) == 0
	return out
}
