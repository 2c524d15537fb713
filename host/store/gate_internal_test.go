package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// TestWriteGate: on SQLite a writer waits in Go, holding no connection,
// while another writes: a statement outside a transaction waits for the
// open transaction (and gives up with its context), reads are not held
// back, and concurrent writers all succeed without meeting SQLITE_BUSY.
func TestWriteGate(t *testing.T) {
	db, err := Open(context.Background(), Config{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	if _, err := exec(ctx, db.x, `CREATE TABLE gate_test (n INTEGER)`); err != nil {
		t.Fatal(err)
	}

	inside, release := make(chan struct{}), make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- db.inTx(ctx, func(tx *sqlx.Tx) error {
			close(inside)
			<-release
			_, err := exec(ctx, tx, `INSERT INTO gate_test (n) VALUES (1)`)
			return err
		})
	}()
	<-inside
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = exec(short, db.x, `INSERT INTO gate_test (n) VALUES (2)`)
	cancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "write lock") {
		t.Fatalf("write during another's transaction: %v, want a wait ended by its context", err)
	}
	var n int
	if err := queryRow(ctx, db.x, `SELECT COUNT(*) FROM gate_test`).Scan(&n); err != nil {
		t.Fatalf("a read was held back by the writer: %v", err)
	}
	close(release)
	if err := <-txDone; err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if i%2 == 0 {
					_, err := exec(ctx, db.x, `INSERT INTO gate_test (n) VALUES (?)`, g)
					errs <- err
					continue
				}
				errs <- db.inTx(ctx, func(tx *sqlx.Tx) error {
					_, err := exec(ctx, tx, `INSERT INTO gate_test (n) VALUES (?)`, g)
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}
	if err := queryRow(ctx, db.x, `SELECT COUNT(*) FROM gate_test`).Scan(&n); err != nil || n != 401 {
		t.Fatalf("rows = %d, %v; want 401", n, err)
	}
}
