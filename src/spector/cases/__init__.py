"""The operational store of a joint investigation (SQLite in the workspace by default,
PostgreSQL for a team): agencies, users and roles, API tokens, joint operations as sharing
groups, cases, targets, notes, tasks, selectors with deconfliction (keyed hashes), evidence
with chain of custody, arrests and seizures, and a hash-chained audit log.

Every read and write of a shared record goes through one access filter
(``spector.cases._access``); see docs/cases.md. ``verify_audit`` is ``_audit.verify``.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the package re-exports, imported on first use (spector._lazy)
    from spector.cases._access import (
        add_record,
        can_read,
        delete_record,
        get_visible,
        list_visible,
        select_visible,
        update_record,
        visible,
    )
    from spector.cases._audit import (
        AuditReport,
    )
    from spector.cases._audit import verify as verify_audit
    from spector.cases._base import (
        DISTRIBUTIONS,
        HANDLING_CODES,
        ROLES,
        Principal,
    )
    from spector.cases._browse import (
        case_detail,
        evidence_detail,
        page_cases,
        page_notices,
    )
    from spector.cases._canon import (
        canonical,
    )
    from spector.cases._db import (
        CaseStore,
        open_cases,
        resolve_url,
    )
    from spector.cases._deconflict import (
        DeconflictionNotice,
        Selector,
        acknowledge,
        add_selector,
        export_hashes,
        import_hashes,
        notices,
    )
    from spector.cases._evidence import (
        CustodyEvent,
        Evidence,
        add_custody,
        add_evidence,
        custody_chain,
        verify_evidence,
    )
    from spector.cases._ops import (
        Arrest,
        Seizure,
        add_arrest,
        add_seizure,
        arrest_dict,
        import_operation,
        list_arrests,
        list_seizures,
        operation_totals,
        seizure_dict,
    )
    from spector.cases._ops_overview import operation_overview
    from spector.cases._records import (
        Case,
        Note,
        Target,
        Task,
        add_note,
        add_target,
        add_task,
        case_view,
        list_cases,
        open_case,
    )
    from spector.cases._who import (
        Agency,
        Operation,
        User,
        authenticate,
        create_agency,
        create_operation,
        create_user,
        init_instance,
        issue_token,
        join_operation,
        list_operations,
        login,
        principal_of,
        revoke_token,
        revoke_user,
    )
else:
    from spector._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "DISTRIBUTIONS",
    "HANDLING_CODES",
    "ROLES",
    "Agency",
    "Arrest",
    "AuditReport",
    "Case",
    "CaseStore",
    "CustodyEvent",
    "DeconflictionNotice",
    "Evidence",
    "Note",
    "Operation",
    "Principal",
    "Seizure",
    "Selector",
    "Target",
    "Task",
    "User",
    "acknowledge",
    "add_arrest",
    "add_custody",
    "add_evidence",
    "add_note",
    "add_record",
    "add_seizure",
    "add_selector",
    "add_target",
    "add_task",
    "arrest_dict",
    "authenticate",
    "can_read",
    "canonical",
    "case_detail",
    "case_view",
    "create_agency",
    "create_operation",
    "create_user",
    "custody_chain",
    "delete_record",
    "evidence_detail",
    "export_hashes",
    "get_visible",
    "import_hashes",
    "import_operation",
    "init_instance",
    "issue_token",
    "join_operation",
    "list_arrests",
    "list_cases",
    "list_operations",
    "list_seizures",
    "list_visible",
    "login",
    "notices",
    "open_case",
    "open_cases",
    "operation_overview",
    "operation_totals",
    "page_cases",
    "page_notices",
    "principal_of",
    "resolve_url",
    "revoke_token",
    "revoke_user",
    "seizure_dict",
    "select_visible",
    "update_record",
    "verify_audit",
    "verify_evidence",
    "visible",
]
