/* The rollout protocol's exact strings (docs/ARCHITECTURE.md), in one place. A response reads:
 *   ...text... <code>\n```python\nCODE\n```\n</code>\n<interpreter>\nOUTPUT\n</interpreter>\n\n ...text...
 *   <answer>\n\boxed{ANSWER}\n</answer> */
#ifndef RETOOL_ROLLOUT_PROTOCOL_H
#define RETOOL_ROLLOUT_PROTOCOL_H

#define ROLLOUT_CODE_OPEN "<code>"
#define ROLLOUT_CODE_CLOSE "</code>"
#define ROLLOUT_PY_FENCE "```python"
#define ROLLOUT_FENCE "```"
#define ROLLOUT_INTERP_OPEN "<interpreter>"
#define ROLLOUT_INTERP_CLOSE "</interpreter>"
#define ROLLOUT_ANSWER_OPEN "<answer>"
#define ROLLOUT_ANSWER_CLOSE "</answer>"

/* What the model sees in place of output when a call is refused because the tool-call budget is spent. */
#define ROLLOUT_MSG_TOOL_BUDGET "Tool call limit reached: this code was not run. Finish without more code."
/* What the model sees when its <code> block holds no ```python fence. */
#define ROLLOUT_MSG_NO_FENCE "FormatError: put the code in a ```python ... ``` block inside <code> ... </code>."
/* What the model sees when the interpreter times out. */
#define ROLLOUT_MSG_TIMEOUT "Timeout Error"

#endif
