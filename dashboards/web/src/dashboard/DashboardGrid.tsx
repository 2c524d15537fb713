// The dashboard grid, in its own chunk with react-grid-layout: only the
// dashboards page loads it.
import { useMemo, type ReactNode } from "react";
import ReactGridLayout, { useContainerWidth, type Layout } from "react-grid-layout";
import "react-grid-layout/css/styles.css";
import "react-resizable/css/styles.css";

/** A card's place on the 12-column grid. */
export interface GridCard {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface DashboardGridProps {
  cards: GridCard[];
  renderCard: (id: string) => ReactNode;
  /** Editors may move and resize cards; viewers see a static grid. */
  editable?: boolean;
  onLayoutChange?: (cards: GridCard[]) => void;
  rowHeight?: number;
}

export const GRID_COLUMNS = 12;

export function DashboardGrid({ cards, renderCard, editable = false, onLayoutChange, rowHeight = 96 }: DashboardGridProps) {
  const { width, containerRef, mounted } = useContainerWidth({ initialWidth: 1200 });
  const layout: Layout = useMemo(() => cards.map((c) => ({ i: c.id, x: c.x, y: c.y, w: c.w, h: c.h, minW: 2, minH: 2 })), [cards]);
  return (
    <div ref={containerRef} className={`dashboard-grid${editable ? " is-editable" : ""}`}>
      {mounted && (
        <ReactGridLayout
          width={width}
          layout={layout}
          gridConfig={{ cols: GRID_COLUMNS, rowHeight, margin: [16, 16], containerPadding: [0, 0] }}
          dragConfig={{ enabled: editable, handle: ".card-head", cancel: "button, a, input, select, .card-actions" }}
          resizeConfig={{ enabled: editable }}
          onLayoutChange={(l) => onLayoutChange?.(l.map((it) => ({ id: it.i, x: it.x, y: it.y, w: it.w, h: it.h })))}
        >
          {cards.map((c) => (
            <div key={c.id} className="grid-item" data-card-id={c.id}>
              {renderCard(c.id)}
            </div>
          ))}
        </ReactGridLayout>
      )}
    </div>
  );
}
