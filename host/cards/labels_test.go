package cards

import (
	"reflect"
	"testing"
)

func TestDistinctLabels(t *testing.T) {
	cases := []struct {
		name string
		in   []pipelineLabel
		want []string
	}{
		{"unique names stay as they are", []pipelineLabel{{"etl", "airflow"}, {"load", "airflow"}},
			[]string{"etl", "load"}},
		{"same name in two sources: the source names", []pipelineLabel{{"ETL_Vendas", "Databricks (demo)"}, {"ETL_Vendas", "Synapse"}, {"load", "x"}},
			[]string{"ETL_Vendas (Databricks (demo))", "ETL_Vendas (Synapse)", "load"}},
		{"same name in one source: numbered", []pipelineLabel{{"etl", "airflow"}, {"etl", "airflow"}, {"etl", "dbx"}},
			[]string{"etl (airflow)", "etl (airflow) #2", "etl (dbx)"}},
		{"a number that is another pipeline's name is skipped",
			[]pipelineLabel{{"etl", "a"}, {"etl", "a"}, {"etl", "a"}, {"etl (a) #2", "b"}},
			[]string{"etl (a)", "etl (a) #3", "etl (a) #4", "etl (a) #2"}},
		{"a source without a name", []pipelineLabel{{"etl", ""}, {"etl", "dbx"}},
			[]string{"etl (unnamed source)", "etl (dbx)"}},
		{"nothing", nil, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := distinctLabels(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			seen := map[string]bool{}
			for _, l := range got {
				if seen[l] {
					t.Errorf("label %q twice in %q", l, got)
				}
				seen[l] = true
			}
		})
	}
}
