package containerd

import "testing"

func TestOOMKills(t *testing.T) {
	for content, want := range map[string]int{
		"low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n": 1, // cgroup v2 memory.events
		"oom_kill_disable 0\nunder_oom 0\noom_kill 2\n":               2, // cgroup v1 memory.oom_control
		"oom_kill_disable 0\nunder_oom 0\noom_kill 0\n":               0,
		"": 0,
	} {
		if got := oomKills(content); got != want {
			t.Errorf("oomKills(%q) = %d, want %d", content, got, want)
		}
	}
}
