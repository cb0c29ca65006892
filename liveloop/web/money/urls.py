"""The finance pages' URL table, included under /money/ by liveloop/web/urls.py (names web:money_*)."""
from django.urls import path

from liveloop.web.money import audit, ledger, payouts, plans, settlement, statements, teams

urlpatterns = [
    path("", settlement.overview, name="money"),
    path("settings/", settlement.money_settings, name="money_settings"),
    path("plans/", plans.plans_page, name="money_plans"),
    path("plans/new/", plans.plan_edit, name="money_plan_new"),
    path("plans/<int:plan_id>/", plans.plan_edit, name="money_plan"),
    path("plans/<int:plan_id>/default/", plans.plan_default, name="money_plan_default"),
    path("plans/<int:plan_id>/archive/", plans.plan_archive, name="money_plan_archive"),
    path("lives/<str:public_id>/settle/", settlement.settle, name="money_settle"),
    path("lives/<str:public_id>/plan/", settlement.live_plan, name="money_live_plan"),
    path("runs/<int:run_id>/", statements.run_page, name="money_run"),
    path("runs/<int:run_id>/approve/", statements.run_approve, name="money_run_approve"),
    path("runs/<int:run_id>/statements.csv", statements.run_export, {"kind": "csv"}, name="money_run_csv"),
    path("runs/<int:run_id>/statements.xlsx", statements.run_export, {"kind": "xlsx"}, name="money_run_xlsx"),
    path("statements/<str:number>/", statements.statement_page, name="money_statement"),
    path("statements/<str:number>/approve/", statements.statement_approve, name="money_statement_approve"),
    path("statements/<str:number>/paid/", statements.statement_paid, name="money_statement_paid"),
    path("statements/<str:number>/retry/", statements.statement_retry, name="money_statement_retry"),
    path("batches/", payouts.batches_page, name="money_batches"),
    path("batches/wechatpay/", payouts.wechat_run, name="money_wechat_run"),
    path("batches/<int:batch_id>/", payouts.batch_page, name="money_batch"),
    path("batches/<int:batch_id>/batch.csv", payouts.batch_file, {"kind": "csv"}, name="money_batch_csv"),
    path("batches/<int:batch_id>/batch.xlsx", payouts.batch_file, {"kind": "xlsx"}, name="money_batch_xlsx"),
    path("batches/<int:batch_id>/results/", payouts.batch_results, name="money_batch_results"),
    path("promoters/<str:code>/", ledger.ledger_page, name="money_ledger"),
    path("promoters/<str:code>/adjust/", ledger.ledger_adjust, name="money_adjust"),
    path("promoters/<str:code>/lives/<str:public_id>/", ledger.ledger_live, name="money_ledger_live"),
    path("teams/", teams.teams_page, name="money_teams"),
    path("teams/<int:team_id>/", teams.team_leadership, name="money_team"),
    path("audit/", audit.audit_page, name="money_audit"),
]
