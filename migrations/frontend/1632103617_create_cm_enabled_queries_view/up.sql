CREATE OR REPLACE VIEW cm_enabled_queries AS
    SELECT q.id, q.monitor, q.query, q.next_run, q.search_context_id, m.namespace_user_id, m.namespace_org_id
    FROM cm_queries q
    JOIN cm_monitors m ON m.id = q.monitor
    WHERE m.enabled;
