// Command crashy is a test plugin that exits at start, as a plugin with a
// fatal configuration or linking problem does.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "crashy: cannot start: the database is on fire")
	os.Exit(2)
}
