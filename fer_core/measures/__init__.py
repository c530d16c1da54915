"""Pure measures over log rows: row durations, per-frame shares and valence, time buckets, and
the per-session summary that the log store keeps beside each session.

Why a package below both the log store and ``fer_core.analytics``: the store writes a session's
``_summary.json`` when the session is closed, so the summary's arithmetic must not live in a
package that itself reads the store (that tied the two packages together, issue 20). Everything
here takes pandas frames and returns numbers or frames; nothing reads files, imports the store,
DuckDB, torch or Streamlit. :mod:`fer_core.analytics` re-exports the public names.
"""
