// Task custom_rule_notifications: a rule that collected enough samples notifies its creator once (then the cleanup deactivates it after its end).

import type { CustomRuleDefinition } from '../definitions/types';
import type { TaskDeps } from './common';
import type { TaskContext } from './context';

/** `MIN_SAMPLES_FOR_NOTIFICATION`. */
export const MIN_SAMPLES_FOR_NOTIFICATION = 10;

/** What a notification says (Sentry emails the rule's creator). */
export interface CustomRuleNotification {
  orgId: number;
  rule: CustomRuleDefinition;
  samples: number;
}

export async function customRuleNotifications(context: TaskContext, deps: TaskDeps): Promise<void> {
  const samples = deps.customRuleSamples;
  if (!samples) return;
  const now = deps.clock();
  const state = context.getFunctionState('custom_rule_notifications');
  for (const org of deps.definitions.organizations()) {
    for (const rule of org.customRules ?? []) {
      context.checkTimeout();
      if (!rule.isActive || rule.notificationSent || !(Date.parse(rule.startDate) < now && now < Date.parse(rule.endDate))) continue;
      const count = await samples.count(org.id, rule);
      state.numDbCalls += 1;
      if (count < MIN_SAMPLES_FOR_NOTIFICATION) continue;
      await deps.definitions.markNotificationSent(org.id, rule.ruleId);
      state.numRowsTotal += 1;
      const notification: CustomRuleNotification = { orgId: org.id, rule: { ...rule, notificationSent: true }, samples: count };
      deps.logger.info({ orgId: org.id, ruleId: rule.ruleId, createdBy: rule.createdBy ?? null, samples: count, query: rule.query ?? null }, 'custom rule collected its samples');
      for (const listener of deps.customRuleNotified ?? []) listener(notification);
    }
  }
  context.setFunctionState('custom_rule_notifications', state);
}
