// Scalar transcendental functions from the host (JavaScript's Math), used once per row. Importing
// them keeps the module free of static data: AssemblyScript's own Math.log/exp bring lookup
// tables, and active data segments would be rewritten by every instance sharing the memory.

// @ts-ignore: decorator
@external("env", "log")
export declare function hostLog(x: f64): f64;

// @ts-ignore: decorator
@external("env", "exp")
export declare function hostExp(x: f64): f64;
