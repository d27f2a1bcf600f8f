/** The exit code a command asks for when it completes but some inputs failed (DESIGN §1: exit 1). */
export const outcome = { exitCode: 0 };
