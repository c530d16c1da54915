"""Admin: accounts, subject assignments, the audit log, and erasure of a session or subject.

Every action is checked again by :class:`fer_core.auth.Auth` (not only by this page being
hidden from other roles) and written to the audit log.
"""

import pandas as pd
import streamlit as st

from dashboard import auth_ui, loaders, ui
from dashboard.plaintext import plain, say
from fer_core.auth import AccountError, ErasureError, Perm, Role
from fer_core.auth.audit_view import audit_table
from fer_core.logstore import LogStore, SessionBusyError, SessionNotFoundError

who = auth_ui.require(Perm.MANAGE_ACCOUNTS)
auth = auth_ui.get_auth()
st.title("Admin")
auth_ui.log_view("Admin")
accounts_tab, assign_tab, audit_tab, erase_tab = st.tabs(
    ["Accounts", "Assignments", "Audit log", "Erase data"])

with accounts_tab:
    if st.session_state.get("admin.created"):
        say(st, "success", st.session_state.pop("admin.created"))
    accounts = auth.accounts.all()
    st.dataframe(pd.DataFrame([{"username": a.username, "role": str(a.role), "active": a.active,
                                "created": a.created_at, "created by": a.created_by}
                               for a in accounts]), hide_index=True, key="admin.accounts")
    with st.form("admin.new_account", clear_on_submit=True):
        st.markdown("**New account**")
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Username", key="admin.new_user")
        password = c2.text_input("Initial password", type="password", key="admin.new_pw")
        role = c3.selectbox("Role", [r.value for r in Role], index=1, key="admin.new_role")
        if st.form_submit_button("Create account"):
            try:
                auth.create_account(who, name, password, Role(role))
                # rerun so the table above lists the new account at once
                st.session_state["admin.created"] = f"Account {name.strip().lower()} created."
                st.rerun()
            except (AccountError, PermissionError) as exc:
                say(st, "error", exc)
    names = [a.username for a in accounts]
    with st.form("admin.edit_account"):
        st.markdown("**Change an account**")
        c1, c2, c3, c4 = st.columns(4)
        target = c1.selectbox("Account", names, key="admin.edit_user")
        new_role = c2.selectbox("Role", ["(unchanged)", *[r.value for r in Role]],
                                key="admin.edit_role")
        active = c3.selectbox("Active", ["(unchanged)", "active", "disabled"],
                              key="admin.edit_active")
        new_pw = c4.text_input("New password", type="password", key="admin.edit_pw")
        if st.form_submit_button("Apply"):
            try:
                auth.update_account(
                    who, target, role=None if new_role == "(unchanged)" else Role(new_role),
                    active=None if active == "(unchanged)" else active == "active",
                    password=new_pw or None)
                say(st, "success", f"Account {target} updated.")
            except (AccountError, PermissionError) as exc:
                say(st, "error", exc)

with assign_tab:
    st.caption("Psychologists and viewers see only the subjects assigned to them (a "
               "psychologist is assigned automatically to a new subject they record).")
    subjects = sorted(loaders.subjects()["subject"].tolist())
    users = [a.username for a in auth.accounts.all() if a.role is not Role.ADMIN]
    if not users:
        st.info("No psychologist or viewer account yet.")
    else:
        user = st.selectbox("Account", users, key="admin.assign_user")
        current = auth.assignments.subjects_of(user)
        chosen = st.multiselect("Subjects assigned", sorted(set(subjects) | current),
                                default=sorted(current), key=f"admin.assign.{user}")
        if st.button("Save assignments", key="admin.assign_save"):
            for subject in set(chosen) - current:
                auth.set_assignment(who, subject, user, True)
            for subject in current - set(chosen):
                auth.set_assignment(who, subject, user, False)
            say(st, "success", f"Assignments of {user} saved.")
    # explicit columns: an empty table still shows its headers (issue 19)
    st.dataframe(pd.DataFrame([{"account": u, "subjects": ", ".join(s)}
                               for u, s in auth.assignments.all().items()],
                              columns=["account", "subjects"]),
                 hide_index=True, key="admin.assignments")

with audit_tab:
    auth_ui.require(Perm.READ_AUDIT)
    tz = ui.display_tz()
    try:  # a damaged line or anchor is reported by verify(), never raised
        entries = audit_table(auth.audit.entries(), tz)  # newest first, all text
        problems = auth.audit.verify()
    except OSError as exc:
        entries, problems = pd.DataFrame(), [f"the audit folder cannot be read ({exc})"]
    if problems:
        st.error("The audit log was altered (tampering): " + plain("; ".join(problems[:5]))
                 + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                 icon=":material/gpp_bad:")
    else:
        st.caption("Append-only; the hash chain of every line is intact.")
    if entries.empty:
        st.info("No entries yet.")
    else:
        c1, c2, c3 = st.columns(3)
        f_user = c1.selectbox("User", ["(all)", *sorted(entries["user"].unique())],
                              key="admin.audit_user")
        f_action = c2.selectbox("Action", ["(all)", *sorted(entries["action"].unique())],
                                key="admin.audit_action")
        f_text = c3.text_input("Target contains", key="admin.audit_text")
        shown = entries
        if f_user != "(all)":
            shown = shown.loc[shown["user"] == f_user]
        if f_action != "(all)":
            shown = shown.loc[shown["action"] == f_action]
        if f_text:
            shown = shown.loc[shown["target"].str.contains(f_text, regex=False)]
        st.dataframe(shown, hide_index=True, key="admin.audit_table", column_config={
            "time": st.column_config.TextColumn(f"time ({tz})")})

with erase_tab:
    auth_ui.require(Perm.DELETE)
    st.warning("Erasure is permanent: rows, metadata, notes, markers, consent records and "
               "saved videos are deleted. The audit log keeps who erased which id and when.",
               icon=":material/delete_forever:")
    subjects = sorted(loaders.subjects()["subject"].tolist())
    if not subjects:
        st.info("The log store is empty.")
    else:
        subject = st.selectbox("Subject", subjects, key="admin.erase_subject")
        sessions = loaders.sessions(subject)["session"].tolist()
        scope = st.selectbox("What", ["the whole subject", *[f"session {s}" for s in sessions]],
                             key="admin.erase_scope")
        session = None if scope == "the whole subject" else scope.removeprefix("session ")
        expected = session or subject
        confirm = st.text_input(f"Type `{expected}` to confirm", key="admin.erase_confirm")
        if st.button("Erase permanently", key="admin.erase", type="primary",
                     disabled=confirm.strip() != expected):
            actor = auth_ui.require(Perm.DELETE)
            if confirm.strip() != expected:  # the disabled state is not the check
                st.error("Confirmation does not match.")
                st.stop()
            try:
                removed = auth.erase(actor, LogStore(loaders.root()), subject, session)
            except (SessionBusyError, SessionNotFoundError, ErasureError) as exc:
                st.error(f"Not erased: {plain(exc)}")
                st.stop()
            st.cache_data.clear()  # no cached copy of the erased rows stays in memory
            for key in ("admin.erase_confirm", "shared.subject", "shared.session"):
                st.session_state.pop(key, None)
            st.session_state["admin.erased"] = f"Erased {expected}: " + "; ".join(removed)
            st.rerun()
    if st.session_state.get("admin.erased"):
        say(st, "success", st.session_state.pop("admin.erased"))
