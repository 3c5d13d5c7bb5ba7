// The package's entry for asc's package resolution (~lib/@moss-edge/sdk):
// the SDK itself is assembly/index.ts.
export * from "./assembly/index";
