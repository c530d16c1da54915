"""The Streamlit review dashboard (pages only lay out fer_core.analytics results)."""
