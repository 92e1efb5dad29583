// Task clean_custom_rule_notifications: deactivates investigation rules that ended more than a minute ago.

import type { TaskDeps } from './common';
import type { TaskContext } from './context';

export async function cleanCustomRules(context: TaskContext, deps: TaskDeps): Promise<void> {
  context.checkTimeout();
  const deactivated = await context.timers.time('deactivate_old_rules', () => deps.definitions.deactivateOldRules(deps.clock()));
  const state = context.getFunctionState('deactivate_old_rules');
  state.numRowsTotal += deactivated.length;
  state.numDbCalls += 1;
  context.setFunctionState('deactivate_old_rules', state);
  if (deactivated.length > 0) deps.logger.info({ rules: deactivated.map((r) => r.ruleId) }, 'custom rules deactivated');
}
