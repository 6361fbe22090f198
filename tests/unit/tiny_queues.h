/* tiny_queues.h - the small charter the ledger's escalation and search
 * tests decide under: one workflow, three escalating rules and four queues
 * (deny, next and allow on timeout). */
#ifndef CHARTER_TEST_TINY_QUEUES_H
#define CHARTER_TEST_TINY_QUEUES_H

static const char tiny_queues_yaml[] =
    "charter: 1\n"
    "organization: {name: Tiny Shop, purpose: Sell tea.}\n"
    "values:\n"
    "  - {id: customer-trust, statement: Customers can rely on us.}\n"
    "workflows:\n"
    "  - id: refunds\n"
    "    department: support\n"
    "    owner: ana@tiny.example\n"
    "    autonomy: agent-ready\n"
    "    actions: [issue_refund, close_account, waive_fee]\n"
    "    escalate_to: leads\n"
    "agents:\n"
    "  - {id: support-bot, department: support, owner: ana@tiny.example,"
    " workflows: [refunds]}\n"
    "rules:\n"
    "  - id: large-refund\n"
    "    workflows: [refunds]\n"
    "    actions: [issue_refund]\n"
    "    when: input.amount > 100\n"
    "    effect: escalate\n"
    "    protects: customer-trust\n"
    "    message: Large refunds need a lead.\n"
    "  - id: closing\n"
    "    workflows: [refunds]\n"
    "    actions: [close_account]\n"
    "    when: 'true'\n"
    "    effect: escalate\n"
    "    escalate_to: tier1\n"
    "    protects: customer-trust\n"
    "    message: Closing an account needs a person.\n"
    "  - id: fees\n"
    "    workflows: [refunds]\n"
    "    actions: [waive_fee]\n"
    "    when: 'true'\n"
    "    effect: escalate\n"
    "    escalate_to: lenient\n"
    "    protects: customer-trust\n"
    "    message: Fee waivers need a look.\n"
    "escalation:\n"
    "  queues:\n"
    "    - {id: leads, approvers: {roles: [support-lead]}, sla: 4h, on_timeout: deny}\n"
    "    - {id: tier1, approvers: {roles: [agent]}, sla: 1h, on_timeout: next,"
    " next: tier2}\n"
    "    - {id: tier2, approvers: {roles: [lead]}, sla: 2h, on_timeout: deny}\n"
    "    - {id: lenient, approvers: {roles: [lead]}, sla: 30m, on_timeout: allow}\n";

#endif
