"""Read models (views) in SQL, written once for SQLite (a file, or in memory) and PostgreSQL.

- `sql.py`: the dialect contract (`ViewDatabase`, `SqlCursor`); `sqlite.py` and `postgres.py`
  the two dialects, on the library's datastores.
- `tracking.py`: `SqlTrackingRecorder` (a position only) and `SqlView`, the base of every
  read model (its tables, exactly-once tracking, batches, `position()`, `wait_for()`).
- `ledger_view.py`, `payments_view.py`: one module per read model.
- `factory.py`: the typed constructors the composition root calls.

A new read model is one module here: a `SqlView` subclass that also subclasses the
application's Protocol for it, naming its `tables`, `indexes` and `create` templates and
writing each change with `_track()` on the cursor of `_writing()`; plus an `open_...`
constructor in `factory.py`, its wiring in `entrypoints/bootstrap.py`, and a contract test
run against the `memory`, `sqlite` and `postgres` databases.
"""
