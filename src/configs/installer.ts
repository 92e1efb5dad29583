// The boundary between project-config fetching and the sampling engine: what a config change is handed to.

export interface ProjectInfo { publicKey: string; projectId: number; organizationId: number; }
/** Receives every change of a key's project state. `put` throws an Error whose `name` is 'SamplingConfigError' (with `path` and `ruleId` properties) when the sampling config is rejected: the previous config then stays in force. */
export interface ConfigInstaller {
  put(info: ProjectInfo, samplingConfigJson: string | null, txNameRulesJson?: string | null): void; // null: the project has no sampling config; txNameRulesJson: `config.txNameRules`, null for none
  remove(publicKey: string): void; // disabled, unknown, or expired past grace
}
