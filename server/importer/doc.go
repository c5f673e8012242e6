// Package importer reads a household register (花名册) spreadsheet, the
// XLSX file counties keep of their registered households, and turns its
// rows into Household values, reporting every bad row by the row number
// Excel shows and a reason.
//
// # Columns
//
// The first sheet is read. The header row is the first of the sheet's
// first ten rows that names 户主姓名 or 身份证号; rows above it (a title
// such as "某某村建档立卡贫困户花名册") are skipped. Header order does not
// matter, unknown columns are ignored, and headers are matched after
// removing spaces, a leading or trailing "*" and any note in brackets
// ("身份证号（18位）" is 身份证号).
//
//	column     required  meaning
//	户编号     no        household id; when empty, a deterministic id is
//	                     derived from 村代码 and 身份证号, so importing the
//	                     same file again yields the same ids
//	户主姓名   yes       head of household
//	身份证号   yes       head's resident identity number: 18 characters,
//	                     GB 11643 check digit (mod 11-2), a real birth date
//	村代码     yes       12-digit statistical code of the village; must be
//	                     one of the village codes the caller knows
//	户类型     no        一般贫困户/一般户, 低保贫困户/低保户 (低保 flag),
//	                     五保贫困户/五保户/特困供养户 (五保 flag),
//	                     脱贫不稳定户/边缘易致贫户/突发严重困难户 (monitored),
//	                     返贫户 (fell back)
//	户状态     no        未脱贫, 已脱贫, 监测户, 返贫; overrides what 户类型
//	                     and 脱贫年度 imply
//	家庭人口   no        household size, 1..30
//	致贫原因   no        primary cause of poverty, as written
//	联系电话   no        digits, spaces, "-" and "+" only
//	脱贫年度   no        exit year, 2014..2100 ("2019" or "2019年"); a
//	                     household with one and no 户状态 is exited
//
// Identity numbers are personal data: errors, logs and the String form of
// IDNumber show them masked (first 6, eight asterisks, last 4). The
// derived household id is a hash of the village code and the identity
// number; identity numbers have little entropy, so the id must not be
// published as if it were anonymous.
package importer
