"""Glossary: the words of the charts explained (the same text as docs/dashboard.md)."""

import streamlit as st

from dashboard import auth_ui, glossary
from fer_core.auth import Perm

auth_ui.require(Perm.VIEW)
st.title("Glossary")
st.caption("What the words on the review pages mean. Every chart also has a one-line guide "
           "under it.")
st.markdown(glossary.markdown())
with st.expander("How to read each chart"):
    st.markdown("\n".join(f"- **{key.split('.', 1)[0].title()}, "
                          f"{key.split('.', 1)[1].replace('-', ' ')}**: {text}"
                          for key, text in glossary.CHART_GUIDES.items()))
