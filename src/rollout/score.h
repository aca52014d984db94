/* Scoring finished trajectories: the final answer is extracted from the text the model wrote (never from interpreter
 * output, which a program controls) and compared with the truth (src/reward); the reward, answer and no-answer flag go
 * on the trajectory. The rule is in docs/REWARD.md ("What is graded"). */
#ifndef RETOOL_ROLLOUT_SCORE_H
#define RETOOL_ROLLOUT_SCORE_H

#include "base/error.h"
#include "reward/reward.h"
#include "rollout/trajectory.h"

/* text with its interpreter blocks removed: each "<interpreter>" up to and including the next "</interpreter>" (to
 * the end when unclosed). With calls (n_calls of them, in order), a block that reads exactly "<interpreter>\n",
 * the next appended call's output, "\n</interpreter>" is removed whole, so output that prints "</interpreter>"
 * cannot end its block early. Returns a malloc'd string, or NULL when out of memory. */
char *rollout_strip_interpreter(const char *text, const rollout_tool_call *calls, size_t n_calls);

/* The text the model wrote in t (malloc'd in *out): t->model_text (its mask-1 tokens, the truth) when set, else
 * t->response_text less its interpreter blocks (rollout_strip_interpreter with t's calls); "" when t has no text. */
rt_status rollout_model_text(const rollout_trajectory *t, char **out, rt_error *err);

/* Sets t->truth (a copy), t->answer, t->reward and ROLLOUT_FLAG_NO_ANSWER from the text the model wrote
 * (rollout_model_text). */
rt_status rollout_score(rollout_trajectory *t, const char *truth, const reward_options *opt, rt_error *err);

/* For a trajectory read from a file scored by the old rule (its stored answer is the one the whole response gives,
 * interpreter output included, and the model's own text gives another): re-scores it from the model's text against
 * its stored truth with opt; with no stored truth it gets the model's own answer and the wrong-answer reward (-1
 * signed, 0 binary). A stored answer that no reading of the text gives (a custom reward) is kept. *rescored is 1
 * when t changed, else 0. */
rt_status rollout_score_recheck(rollout_trajectory *t, const reward_options *opt, int *rescored, rt_error *err);

#endif
