/** The exit code a command asks for when it completes but some inputs failed (1), or was interrupted (130). */
export const outcome = { exitCode: 0 };
