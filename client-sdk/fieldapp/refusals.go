package fieldapp

import (
	"errors"
	"regexp"
	"strings"

	"github.com/ruhu-dev/ruhu/schemas"
	"github.com/ruhu-dev/ruhu/syncengine"
)

// The server words a refusal for logs and supervisors: a schema check as
// "visits.checklist: missing drinking_water" (schemas.FieldError), a rule
// as "exit_notice_too_short: 公示期4天…". The officer at the door reads
// neither keys nor codes; refusalText says the same in Chinese with the
// form's titles.

var (
	// schemaRefusal is schemas.FieldError's text: collection[.field]: reason.
	schemaRefusal = regexp.MustCompile(`^([a-z][a-z0-9_]*)(?:\.([a-z][a-z0-9_]*))?: (.+)$`)
	// ruleRefusal is a rule's code before its Chinese sentence.
	ruleRefusal = regexp.MustCompile(`^[a-z][a-z0-9_]*: (.*\p{Han}.*)$`)
	// subReason is a reason about a part of the field: "lat: want number…".
	subReason = regexp.MustCompile(`^([a-z][a-z0-9_]*)(?:\[\d+\])?(?:\.[a-z0-9_.\[\]]+)?: (.+)$`)
)

// codeText explains a refusal, or any failure, that came without Chinese
// words (the server's English, Go's), by its code.
var codeText = map[string]string{
	string(syncengine.EINVALID):      "内容不符合要求，请核对后重新保存",
	string(syncengine.EFORBIDDEN):    "您没有权限修改这条记录（可能已不再负责这户）",
	string(syncengine.ECONFLICT):     "与服务器上的记录冲突",
	string(syncengine.ENOTFOUND):     "服务器上没有相关的记录",
	string(syncengine.EUNAUTHORIZED): "登录已失效，请联网重新登录",
	string(syncengine.EREVOKED):      "本设备已被管理员停用，请联系乡镇管理员",
	string(syncengine.ETRANSIENT):    "网络中断，请稍后重试",
	string(syncengine.EINTERNAL):     "应用出错了，请重新打开应用再试；仍不行请联系乡镇管理员",
}

// refusalText is a refusal in Chinese for the officer, and the record
// field it is about ("" when it names none).
func refusalText(reg *schemas.Registry, code, message string) (text, field string) {
	message = strings.TrimSpace(message)
	if m := schemaRefusal.FindStringSubmatch(message); m != nil && reg.Known(m[1]) {
		fe := &schemas.FieldError{Collection: m[1], Field: m[2], Reason: m[3]}
		return fieldErrorText(reg, fe), fe.Field
	}
	if m := ruleRefusal.FindStringSubmatch(message); m != nil {
		return m[1], ""
	}
	if cjk.MatchString(message) {
		return message, ""
	}
	if t, ok := codeText[code]; ok {
		return t, ""
	}
	return "服务器拒绝了这条记录，请联系乡镇管理员", ""
}

// fieldErrorText words a schema refusal with the form's titles: the
// field's title, then what is wrong with it.
func fieldErrorText(reg *schemas.Registry, fe *schemas.FieldError) string {
	titles := fieldTitles(reg, fe.Collection)
	title := func(path string) string {
		if t, ok := titles[path]; ok {
			return t
		}
		return path
	}
	reason, field := fe.Reason, fe.Field
	if m := subReason.FindStringSubmatch(reason); m != nil && field != "" && !strings.HasPrefix(reason, "required when") {
		if _, ok := titles[field+"."+m[1]]; ok {
			field, reason = field+"."+m[1], m[2]
		}
	}
	quoted := func(list, parent string) string {
		var out []string
		for _, n := range strings.Split(list, ", ") {
			p := n
			if parent != "" {
				p = parent + "." + n
			}
			out = append(out, "「"+title(p)+"」")
		}
		return strings.Join(out, "")
	}
	var what string
	switch {
	case reason == "required":
		what = "必须填写"
	case strings.HasPrefix(reason, "required when "):
		what = "填写了" + quoted(strings.TrimSuffix(strings.TrimPrefix(reason, "required when "), " is set"), "") + "时必须填写"
	case strings.HasPrefix(reason, "one of ") && strings.HasSuffix(reason, " is required"):
		return "须填写" + strings.ReplaceAll(quoted(strings.TrimSuffix(strings.TrimPrefix(reason, "one of "), " is required"), ""), "」「", "」或「") + "之一"
	case strings.HasPrefix(reason, "missing "):
		what = "缺少" + quoted(strings.TrimPrefix(reason, "missing "), field)
	case strings.HasPrefix(reason, "must be one of "), strings.HasPrefix(reason, "must be "):
		what = "不是可选的值"
	case strings.HasPrefix(reason, "want "):
		what = "填写的类型不对"
	case strings.HasPrefix(reason, "does not match pattern"), strings.HasPrefix(reason, "not a valid"):
		what = "格式不对"
	case strings.HasPrefix(reason, "unknown field "):
		what = "有服务器表单不认识的项目" + quoted(strings.TrimPrefix(reason, "unknown field "), field) + "：请先同步以更新表单"
	case strings.HasPrefix(reason, "items "):
		what = "有重复的项目"
	default:
		what = "不符合要求"
	}
	if field == "" {
		return "记录" + what
	}
	return title(field) + "：" + what
}

// invalidRecord is a schema refusal of a record about to be saved, in
// Chinese and naming the field, for the form to point at.
func (a *App) invalidRecord(err error) error {
	var fe *schemas.FieldError
	if !errors.As(err, &fe) {
		return syncengine.Errorf(syncengine.EINVALID, "记录不符合表单要求：%v", err)
	}
	return &fieldErr{syncengine.Errorf(syncengine.EINVALID, "%s", fieldErrorText(a.reg, fe)), fe.Field}
}

// fieldTitles maps every field path of a collection's form to its title;
// fields the form leaves out (filled by the app) get their schema title.
func fieldTitles(reg *schemas.Registry, collection string) map[string]string {
	out := map[string]string{}
	names := reg.Fields(collection)
	_, labels := schemaTitles(reg, collection, names)
	for i, n := range names {
		out[n] = labels[i]
	}
	form, err := BuildForm(reg, collection)
	if err != nil {
		return out
	}
	var walk func(fs []Field)
	walk = func(fs []Field) {
		for _, f := range fs {
			out[f.Name] = f.Title
			walk(f.Fields)
		}
	}
	walk(form.Fields)
	return out
}

// failureText is a failed call's message for the screen: its own when it
// is in Chinese, else a sentence for its code (the English goes to the
// log).
func (a *App) failureText(err error) string {
	var fe *schemas.FieldError
	if errors.As(err, &fe) {
		return fieldErrorText(a.reg, fe)
	}
	code := syncengine.ErrorCode(err)
	msg := syncengine.ErrorMessage(err)
	if cjk.MatchString(msg) {
		return msg
	}
	if t, ok := codeText[string(code)]; ok {
		return t
	}
	return codeText[string(syncengine.EINTERNAL)]
}
