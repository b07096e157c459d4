-- 0023: which side-by-side fields of a break disagree, for the console to highlight
-- (DESIGN §9: "the disagreeing fields highlighted"). Column names of recon_breaks.
CREATE FUNCTION recon_break_fields(p_class text, p_planes text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_class
        WHEN 'fulfilled_before_finality' THEN ARRAY['c_status', 'p_state']
        WHEN 'missing_in_finance'        THEN ARRAY['p_state', 'f_transactions']
        WHEN 'orphan_posting'            THEN ARRAY['f_transactions', 'p_state']
        WHEN 'amount_mismatch'           THEN
            CASE p_planes WHEN 'commerce,provider' THEN ARRAY['c_amount', 'p_amount']
                          WHEN 'provider,finance'  THEN ARRAY['p_amount', 'f_amount']
                          ELSE ARRAY['c_amount', 'p_amount', 'f_amount'] END
        WHEN 'missing_in_provider'       THEN ARRAY['c_status', 'p_payments']
        WHEN 'commerce_lagging'          THEN ARRAY['c_status', 'p_state']
        WHEN 'unapplied_transfer'        THEN ARRAY['p_state', 'f_transactions']
    END
$$;
