package api

import "encoding/json"

// CardTypeSource contributes card types to the catalog.
type CardTypeSource interface {
	CardTypes() []CardType
}

// CardType is a card type in the catalog served by GET /api/v1/card-types.
type CardType struct {
	Type          string          `json:"type"`
	PluginID      string          `json:"plugin_id"`
	Title         string          `json:"title"`
	Description   string          `json:"description,omitempty"`
	Visualization string          `json:"visualization"`
	OptionsSchema json.RawMessage `json:"options_schema"`
	DefaultSize   *CardSize       `json:"default_size,omitempty"`
}

// CardSize is a default card size on the 12-column grid.
type CardSize struct {
	W int `json:"w"`
	H int `json:"h"`
}
