package slacksim

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"
)

// Block Kit limits Slack documents (apis/slack.md, "Block Kit for alerts").
const (
	MaxBlocks          = 50
	MaxHeaderText      = 150
	MaxSectionText     = 3000
	MaxFields          = 10
	MaxFieldText       = 2000
	MaxContextElements = 10
	MaxActions         = 25
	MaxButtonText      = 75
	MaxButtonURL       = 3000
	MaxBlockID         = 255
)

var knownBlocks = map[string]bool{
	"header": true, "section": true, "context": true, "actions": true, "divider": true,
	"image": true, "rich_text": true, "markdown": true, "file": true, "input": true,
}

// ValidateBlocks checks a blocks array against Slack's limits and returns
// the problems in Slack's style ("must be less than 151 characters
// [json-pointer:/blocks/0/text/text]"); nil when it is valid.
func ValidateBlocks(blocks json.RawMessage) []string {
	return validateBlocks(blocks, "/blocks")
}

func validateMessage(m wireMessage) []string {
	probs := validateBlocks(m.Blocks, "/blocks")
	if isEmptyJSON(m.Attachments) {
		return probs
	}
	var atts []struct {
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(m.Attachments, &atts); err != nil {
		return append(probs, "must be an array of attachments [json-pointer:/attachments]")
	}
	for i, a := range atts {
		probs = append(probs, validateBlocks(a.Blocks, fmt.Sprintf("/attachments/%d/blocks", i))...)
	}
	return probs
}

type textObject struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji *bool  `json:"emoji"`
}

type element struct {
	Type     string          `json:"type"`
	Text     json.RawMessage `json:"text"`
	URL      string          `json:"url"`
	ActionID string          `json:"action_id"`
	Style    string          `json:"style"`
}

type blockShape struct {
	Type     string       `json:"type"`
	BlockID  *string      `json:"block_id"`
	Text     *textObject  `json:"text"`
	Fields   []textObject `json:"fields"`
	Elements []element    `json:"elements"`
}

func validateBlocks(raw json.RawMessage, at string) []string {
	if isEmptyJSON(raw) {
		return nil
	}
	var blocks []blockShape
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return []string{fmt.Sprintf("invalid blocks: %v [json-pointer:%s]", err, at)}
	}
	var probs []string
	add := func(ptr, msg string) { probs = append(probs, fmt.Sprintf("%s [json-pointer:%s%s]", msg, at, ptr)) }
	if len(blocks) > MaxBlocks {
		add("", fmt.Sprintf("no more than %d items allowed", MaxBlocks))
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		p := fmt.Sprintf("/%d", i)
		if !knownBlocks[b.Type] {
			add(p+"/type", fmt.Sprintf("unknown block type %q", b.Type))
			continue
		}
		if b.BlockID != nil {
			switch {
			case length(*b.BlockID) > MaxBlockID:
				add(p+"/block_id", fmt.Sprintf("must be less than %d characters", MaxBlockID+1))
			case ids[*b.BlockID]:
				add(p+"/block_id", "duplicate block_id")
			}
			ids[*b.BlockID] = true
		}
		switch b.Type {
		case "header":
			switch {
			case b.Text == nil || b.Text.Type != "plain_text":
				add(p+"/text", "must be a plain_text object")
			case b.Text.Text == "":
				add(p+"/text/text", "must be more than 0 characters")
			case length(b.Text.Text) > MaxHeaderText:
				add(p+"/text/text", fmt.Sprintf("must be less than %d characters", MaxHeaderText+1))
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				add(p, "must provide either text or fields")
			}
			if b.Text != nil {
				probs = append(probs, checkText(b.Text, MaxSectionText, at+p+"/text")...)
			}
			if len(b.Fields) > MaxFields {
				add(p+"/fields", fmt.Sprintf("no more than %d items allowed", MaxFields))
			}
			for j := range b.Fields {
				probs = append(probs, checkText(&b.Fields[j], MaxFieldText, fmt.Sprintf("%s%s/fields/%d", at, p, j))...)
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > MaxContextElements {
				add(p+"/elements", fmt.Sprintf("must have between 1 and %d items", MaxContextElements))
			}
		case "actions":
			if len(b.Elements) == 0 || len(b.Elements) > MaxActions {
				add(p+"/elements", fmt.Sprintf("must have between 1 and %d items", MaxActions))
			}
			for j, e := range b.Elements {
				ep := fmt.Sprintf("%s/elements/%d", p, j)
				if e.Type != "button" {
					continue
				}
				var t textObject
				if err := json.Unmarshal(e.Text, &t); err != nil || t.Type != "plain_text" {
					add(ep+"/text", "must be a plain_text object")
				} else if t.Text == "" || length(t.Text) > MaxButtonText {
					add(ep+"/text/text", fmt.Sprintf("must be between 1 and %d characters", MaxButtonText))
				}
				if length(e.URL) > MaxButtonURL {
					add(ep+"/url", fmt.Sprintf("must be less than %d characters", MaxButtonURL+1))
				}
				if e.Style != "" && e.Style != "primary" && e.Style != "danger" {
					add(ep+"/style", "must be one of primary, danger")
				}
			}
		}
	}
	return probs
}

func checkText(t *textObject, limit int, ptr string) []string {
	switch {
	case t.Type != "mrkdwn" && t.Type != "plain_text":
		return []string{fmt.Sprintf("must be a text object [json-pointer:%s]", ptr)}
	case t.Text == "":
		return []string{fmt.Sprintf("must be more than 0 characters [json-pointer:%s/text]", ptr)}
	case length(t.Text) > limit:
		return []string{fmt.Sprintf("must be less than %d characters [json-pointer:%s/text]", limit+1, ptr)}
	}
	return nil
}

// length counts characters as UTF-16 code units, the stricter of the
// plausible ways Slack counts them.
func length(s string) int { return len(utf16.Encode([]rune(s))) }
